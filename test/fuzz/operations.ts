/**
 * The operations of the OpenAPI document, and for each one a fast-check arbitrary of whole HTTP
 * requests: who asks (anonymous, a customer, staff, a bad token), path parameters (ids that exist,
 * well-formed ids that do not, garbage), query parameters and headers from their schemas, and a
 * body that is valid, invalid, malformed JSON or not JSON at all, nested around and far beyond the
 * document's depth limit, or sized around and beyond the operation's `x-body-limit`.
 */
import fc from 'fast-check';
import { createArbitraries, nastyString, resolver, type JsonSchema, type KnownValues } from './schema-arbitraries.ts';

export interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface Operation {
  method: string;
  /** OpenAPI template, e.g. /api/orders/orders/{id} */
  path: string;
  parameters: Parameter[];
  body?: JsonSchema;
  /** `x-body-limit`: the longest body the operation reads, in bytes. */
  bodyLimit?: number;
}

export type OpenApi = {
  info?: { description?: string };
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema: JsonSchema }> }; 'x-body-limit'?: number }>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

export function operationsOf(document: OpenApi): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const body = op.requestBody?.content?.['application/json']?.schema;
      const bodyLimit = op['x-body-limit'];
      operations.push({ method: method.toUpperCase(), path, parameters: op.parameters ?? [], ...(body ? { body } : {}), ...(bodyLimit !== undefined ? { bodyLimit } : {}) });
    }
  }
  return operations;
}

export type Role = 'anonymous' | 'customer' | 'staff' | 'bad-token';

export interface FuzzRequest {
  role: Role;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Raw body bytes as sent; undefined: no body. */
  payload?: string;
}

/** Path parameter values that exist, per parameter name (ids of fixtures the test made). */
export type PathPool = Record<string, string[]>;

const MALFORMED_JSON = [
  '{',
  '{"a":',
  '[1,]',
  'nul',
  "{'single': 'quotes'}",
  '{"__proto__": {"is_staff": true}}',
  '{"constructor": {"prototype": {"is_staff": true}}}',
  '"\\ud800"',
  '{"quantity": 9007199254740993}',
  '{"quantity": 1e400}',
  '{"delta": -0}',
  '\u0000',
  '{"a":1,"a":2}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
  '',
  ' ',
];

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=utf-16',
  'application/json-patch+json',
  'application/octet-stream',
  'image/png',
];

/** Percent-encodes any string, lone surrogates included (as the bytes a careless client sends). */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return Array.from(value, (ch) => {
      const code = ch.codePointAt(0)!;
      return code >= 0xd800 && code <= 0xdfff ? `%ED%${(0xa0 | ((code >> 6) & 0x1f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}` : encodeURIComponent(ch);
    }).join('');
  }
}

const RAW_SEGMENTS = ['%00', '%FF', '%ED%A0%80', '..%2F..%2Fetc', '%', '%25', 'null', '0', '-1', '00000000-0000-0000-0000-000000000000', 'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ'];

function pathValue(name: string, pool: PathPool, any: ReturnType<typeof createArbitraries>, schema: JsonSchema): fc.Arbitrary<string> {
  const existing = pool[name] ?? [];
  return fc.oneof(
    { weight: 4, arbitrary: existing.length > 0 ? fc.constantFrom(...existing) : any.valid(schema).map(String) },
    { weight: 2, arbitrary: fc.uuid().map((u) => u) },
    { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    { weight: 2, arbitrary: nastyString.map((s) => encode(s).slice(0, 5000)) },
  );
}

function queryString(params: Parameter[], any: ReturnType<typeof createArbitraries>): fc.Arbitrary<string> {
  const pairs = params.map((p) =>
    fc.option(
      fc.oneof(
        { weight: 3, arbitrary: any.valid(p.schema).map((v) => [`${p.name}=${encode(String(v))}`]) },
        { weight: 2, arbitrary: any.invalid(p.schema).map((v) => [`${p.name}=${encode(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}`]) },
        { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((v) => [`${p.name}=${v}`]) },
        { weight: 1, arbitrary: fc.tuple(any.valid(p.schema), any.valid(p.schema)).map(([a, b]) => [`${p.name}=${encode(String(a))}`, `${p.name}=${encode(String(b))}`]) },
        { weight: 1, arbitrary: fc.constant([`${p.name}`, `${p.name}[]=1`]) },
      ),
      { freq: 2 },
    ),
  );
  const unknown = fc.option(nastyString.map((s) => [`${encode(s.slice(0, 50))}=${encode(s.slice(0, 50))}`]), { freq: 4 });
  return fc.tuple(fc.tuple(...pairs), unknown).map(([chosen, extra]) => {
    const parts = [...chosen.flatMap((c) => c ?? []), ...(extra ?? [])];
    return parts.length > 0 ? `?${parts.join('&')}` : '';
  });
}

/** Header values Node can carry: visible ASCII and Latin-1, long or empty. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 10 }),
  fc.constant(''),
  fc.constant('k'.repeat(256)),
);

/** The depth the document allows ("A JSON body nests at most N levels"), read from its description. */
export function documentedDepth(document: OpenApi): number {
  const match = /nests at most (\d+) levels/.exec(document.info?.description ?? '');
  if (!match) throw new Error('the document no longer states the depth limit of a JSON body');
  return Number(match[1]);
}

/** How deep a JSON text nests (containers inside containers), counted without parsing or recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** `depth` levels of arrays, objects or both, innermost a number. */
function nested(depth: number, kind: 'arrays' | 'objects' | 'mixed'): string {
  if (depth <= 0) return '1';
  const open = (i: number) => (kind === 'arrays' || (kind === 'mixed' && i % 2 === 1) ? '[' : '{"a":');
  const close = (i: number) => (kind === 'arrays' || (kind === 'mixed' && i % 2 === 1) ? ']' : '}');
  let text = '1';
  for (let i = depth - 1; i >= 0; i--) text = `${open(i)}${text}${close(i)}`;
  return text;
}

/** A body object with one more member, `key`, holding `value` (raw JSON). */
function withMember(body: unknown, key: string, value: string): string {
  const base = body !== null && typeof body === 'object' && !Array.isArray(body) ? JSON.stringify(body) : '{}';
  return base === '{}' ? `{${JSON.stringify(key)}:${value}}` : `${base.slice(0, -1)},${JSON.stringify(key)}:${value}}`;
}

/** Depths on both sides of the documented limit, and far beyond it (what overflowed the stack once). */
const depthsAround = (limit: number) => [1, 2, limit - 2, limit - 1, limit, limit + 1, limit + 2, 2 * limit, 1000, 5000];

/**
 * Bodies nested around the documented depth: the whole body, or one member of an otherwise valid
 * body (a property of the operation's schema, or one it does not know).
 */
function deepBody(op: Operation, any: ReturnType<typeof createArbitraries>, maxDepth: number): fc.Arbitrary<{ payload: string; contentType: string }> {
  const keys = [...Object.keys(op.body?.properties ?? {}), 'extra'];
  const base = op.body ? any.valid(op.body) : fc.constant({});
  return fc
    .record({ depth: fc.constantFrom(...depthsAround(maxDepth)), kind: fc.constantFrom('arrays' as const, 'objects' as const, 'mixed' as const), inside: fc.boolean(), key: fc.constantFrom(...keys), base })
    .map(({ depth, kind, inside, key, base: body }) => ({
      payload: inside && depth > 1 ? withMember(body, key, nested(depth - 1, kind)) : nested(depth, kind),
      contentType: 'application/json',
    }));
}

/**
 * Bodies sized around the operation's limit (one byte under, at, one over, twice) and beyond the
 * server's ceiling: a valid body padded with whitespace (still valid JSON), an object of unknown
 * members, or one long string in a member of the schema.
 */
function largeBody(op: Operation, any: ReturnType<typeof createArbitraries>): fc.Arbitrary<{ payload: string; contentType: string }> {
  const limit = op.bodyLimit!;
  const keys = Object.keys(op.body?.properties ?? {});
  const base = op.body ? any.valid(op.body) : fc.constant({});
  return fc
    .record({
      size: fc.constantFrom(limit - 1, limit, limit + 1, 2 * limit, 1024 * 1024 + 1),
      shape: fc.constantFrom('padded' as const, 'unknown-members' as const, 'long-string' as const),
      key: keys.length > 0 ? fc.constantFrom(...keys) : fc.constant('extra'),
      base,
    })
    .map(({ size, shape, key, base: body }) => {
      let text: string;
      if (shape === 'padded') text = JSON.stringify(body) ?? '{}';
      else if (shape === 'long-string') text = withMember(body, key, JSON.stringify('x'.repeat(Math.max(0, size - Buffer.byteLength(withMember(body, key, '""'))))));
      else {
        const members: string[] = [];
        for (let i = 0, length = 2; length < size - 16; i++) {
          const member = `"k${i}":${i}`;
          members.push(member);
          length += member.length + 1;
        }
        text = `{${members.join(',')}}`;
      }
      // Exactly `size` bytes where the content allows.
      const bytes = Buffer.byteLength(text);
      return { payload: bytes < size ? text + ' '.repeat(size - bytes) : text, contentType: 'application/json' };
    });
}

function body(op: Operation, any: ReturnType<typeof createArbitraries>, maxDepth: number): fc.Arbitrary<{ payload?: string; contentType?: string }> {
  const json = (v: unknown) => ({ payload: JSON.stringify(v) ?? 'null', contentType: 'application/json' });
  const options: fc.Arbitrary<{ payload?: string; contentType?: string }>[] = [
    fc.constantFrom(...MALFORMED_JSON).map((payload) => ({ payload, contentType: 'application/json' })),
    fc.tuple(fc.constantFrom(...CONTENT_TYPES), fc.string({ maxLength: 40 })).map(([contentType, payload]) => ({ payload, contentType })),
    fc.constant({}),
    fc.constant({ payload: '', contentType: 'application/json' }),
  ];
  if (op.body) {
    options.push(any.valid(op.body).map(json), any.valid(op.body).map(json), any.invalid(op.body).map(json), any.invalid(op.body).map(json));
  } else {
    options.push(fc.dictionary(fc.constantFrom('status', 'total', 'customer', 'price'), nastyString, { maxKeys: 2 }).map(json));
  }
  // Methods that read a body: depth and size, each as often as a valid body.
  if (op.bodyLimit !== undefined) options.push(deepBody(op, any, maxDepth), largeBody(op, any));
  return fc.oneof(...options);
}

export function requestArbitrary(document: OpenApi, op: Operation, known: KnownValues, pool: PathPool): fc.Arbitrary<FuzzRequest> {
  const any = createArbitraries(known, resolver(document));
  const maxDepth = documentedDepth(document);
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const path = fc.tuple(...pathParams.map((p) => pathValue(p.name, pool, any, p.schema))).map((values) =>
    pathParams.reduce((url, p, i) => url.replace(`{${p.name}}`, values[i]!), op.path),
  );
  const slash = fc.boolean().map((b) => (b && !op.path.endsWith('/') ? '/' : ''));
  const headers = fc.tuple(...headerParams.map((p) => fc.option(fc.oneof(any.valid(p.schema).map(String), headerValue), { freq: 2 })));
  const role = fc.constantFrom<Role>('anonymous', 'customer', 'customer', 'staff', 'staff', 'bad-token');
  return fc
    .record({ role, path, slash, query: queryString(op.parameters.filter((p) => p.in === 'query'), any), headers, body: body(op, any, maxDepth) })
    .map(({ role, path, slash, query, headers: values, body: b }) => {
      const sent: Record<string, string> = {};
      headerParams.forEach((p, i) => {
        if (values[i] !== null && values[i] !== undefined) sent[p.name] = values[i]!;
      });
      if (b.contentType) sent['content-type'] = b.contentType;
      return { role, method: op.method, url: `${path}${slash}${query}`, headers: sent, ...(b.payload !== undefined ? { payload: b.payload } : {}) };
    });
}
