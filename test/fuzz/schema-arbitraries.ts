/**
 * fast-check arbitraries from the JSON Schemas of the OpenAPI document: `valid(schema)` draws
 * values the schema accepts (leaning on the ids the test knows, so requests reach the handlers),
 * `invalid(schema)` draws values it must refuse or that sit on its edges (wrong types, 2^53,
 * negatives, huge and odd unicode strings, missing and extra members). Written here because the
 * schema-to-arbitrary packages only produce valid values; the schemas involved are small (no
 * recursion), so the converter stays short.
 */
import fc from 'fast-check';

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  minProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  $ref?: string;
};

/** Ids and slugs the app knows, offered for string fields whose pattern they match. */
export interface KnownValues {
  uuids: string[];
  slugs: string[];
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Strings that broke servers before: NUL, lone surrogates, RTL and zero-width, SQL, paths, huge. */
export const nastyString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\uD800',
    'x\uDFFFy',
    '\u202Eevil',
    '\u200B',
    '\uFEFF',
    '𝕏😀👩‍👩‍👧',
    "' OR 1=1 --",
    '"; drop table identity.users; --',
    '../../etc/passwd',
    '%00',
    '${jndi:ldap://x}',
    '__proto__',
    'NaN',
    'Infinity',
    '-0',
    '1e309',
    '9007199254740993',
    'true',
    'null',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: 201, max: 20_000 }).map((n) => 'é'.repeat(n)),
  fc.constant('x'.repeat(200_000)),
);

export const nastyNumber = fc.constantFrom(
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 63,
  1e308,
  -1,
  -0,
  0.5,
  1.5,
  -1e-9,
  2 ** 31,
  -(2 ** 31) - 1,
);

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  nastyNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** Members sent where they do not belong: mass assignment and prototype pollution. */
export const EXTRA_MEMBERS = ['is_staff', 'is_active', 'id', 'price', 'total', 'status', 'customer', 'version', 'stock', 'constructor', 'role'];

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type[0];
  if (schema.type) return schema.type;
  if (schema.properties) return 'object';
  return undefined;
}

export function resolver(document: { components?: { schemas?: Record<string, JsonSchema> } }) {
  return (schema: JsonSchema): JsonSchema => {
    if (!schema.$ref) return schema;
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = document.components?.schemas?.[name];
    if (!target) throw new Error(`unresolved ${schema.$ref}`);
    return target;
  };
}

export function createArbitraries(known: KnownValues, resolve: (s: JsonSchema) => JsonSchema = (s) => s) {
  function validString(schema: JsonSchema): fc.Arbitrary<string> {
    const min = schema.minLength ?? 0;
    const max = Math.min(schema.maxLength ?? 60, 60);
    if (schema.format === 'email') return fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? 254));
    if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
    if (schema.pattern) {
      const re = new RegExp(schema.pattern);
      const pool = [...known.uuids, ...known.slugs].filter((v) => re.test(v));
      const drawn = fc.stringMatching(re).filter((s) => s.length >= min && s.length <= (schema.maxLength ?? Infinity));
      return pool.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: drawn }) : drawn;
    }
    // Valid by the schema yet hard on what lies behind it: NUL, lone surrogates, any code point.
    const lengthOk = (s: string) => s.length >= min && s.length <= (schema.maxLength ?? Infinity);
    return fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: min, maxLength: Math.max(min, max) }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: min, maxLength: Math.max(min, max) }).filter(lengthOk) },
      { weight: 1, arbitrary: fc.constantFrom('a\u0000b', '\u0000', '\uD800', 'x\uDFFF', '\u202E', '😀', 'é'.repeat(min)).filter(lengthOk) },
    );
  }

  function validObject(schema: JsonSchema): fc.Arbitrary<unknown> {
    const props = schema.properties ?? {};
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [key, sub] of Object.entries(props)) record[key] = valid(sub);
    const arb = fc.record(record, { requiredKeys: schema.required ?? [] });
    const minProps = schema.minProperties ?? 0;
    return minProps > 0 ? arb.filter((o) => Object.keys(o as object).length >= minProps) : arb;
  }

  function valid(input: JsonSchema): fc.Arbitrary<unknown> {
    const schema = resolve(input);
    if (schema.const !== undefined) return fc.constant(schema.const);
    if (schema.enum) return fc.constantFrom(...schema.enum);
    const union = schema.anyOf ?? schema.oneOf;
    if (union) return fc.oneof(...union.map(valid));
    switch (typeOf(schema)) {
      case 'string':
        return validString(schema);
      case 'integer':
        return fc.integer({ min: Math.max(schema.minimum ?? -MAX_SAFE, -MAX_SAFE), max: Math.min(schema.maximum ?? MAX_SAFE, MAX_SAFE) });
      case 'number':
        return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(schema.items ? valid(schema.items) : anyJson, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
      case 'object':
        return validObject(schema);
      default:
        return anyJson;
    }
  }

  /** Out-of-range and wrong-typed values for a scalar schema. */
  function invalidScalar(schema: JsonSchema): fc.Arbitrary<unknown> {
    const edges: unknown[] = [];
    if (schema.minimum !== undefined) edges.push(schema.minimum - 1, schema.minimum - 0.5);
    if (schema.maximum !== undefined) edges.push(schema.maximum + 1, schema.maximum + 0.5);
    if (schema.maxLength !== undefined) edges.push('a'.repeat(schema.maxLength + 1));
    if (schema.minLength !== undefined && schema.minLength > 0) edges.push('');
    const wrongType = typeOf(schema) === 'string' ? fc.oneof(nastyNumber, fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({})) : anyJson;
    return edges.length > 0 ? fc.oneof(fc.constantFrom(...edges), wrongType, nastyString) : fc.oneof(wrongType, nastyString);
  }

  /** An object with one member broken, one required member missing, or members that do not belong. */
  function invalidObject(schema: JsonSchema): fc.Arbitrary<unknown> {
    const props = Object.entries(schema.properties ?? {});
    const base = validObject(schema) as fc.Arbitrary<Record<string, unknown>>;
    const options: fc.Arbitrary<unknown>[] = [
      fc.tuple(base, fc.constantFrom(...EXTRA_MEMBERS), anyJson).map(([o, k, v]) => ({ ...o, [k]: v })),
      fc.oneof(fc.constant(null), fc.constant([]), nastyString, nastyNumber),
    ];
    if (props.length > 0) {
      options.push(
        fc.tuple(base, fc.constantFrom(...props)).chain(([o, [key, sub]]) => invalid(sub).map((bad) => ({ ...o, [key]: bad }))),
      );
    }
    if ((schema.required ?? []).length > 0) {
      options.push(fc.tuple(base, fc.constantFrom(...schema.required!)).map(([o, key]) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key))));
    }
    return fc.oneof(...options);
  }

  function invalid(input: JsonSchema): fc.Arbitrary<unknown> {
    const schema = resolve(input);
    const union = schema.anyOf ?? schema.oneOf;
    if (union) return fc.oneof(...union.map(invalid));
    switch (typeOf(schema)) {
      case 'object':
        return invalidObject(schema);
      case 'array': {
        const items = schema.items ? valid(schema.items) : anyJson;
        const tooMany = (schema.maxItems ?? 1000) + 1;
        return fc.oneof(
          fc.constant([]),
          items.map((item) => Array.from({ length: tooMany }, () => item)),
          schema.items ? fc.array(invalid(schema.items), { minLength: 1, maxLength: 3 }) : anyJson,
          anyJson,
        );
      }
      default:
        return invalidScalar(schema);
    }
  }

  /** Mostly valid (to reach the handler), often invalid. */
  const either = (schema: JsonSchema) => fc.oneof({ weight: 1, arbitrary: valid(schema) }, { weight: 1, arbitrary: invalid(schema) });

  return { valid, invalid, either };
}
