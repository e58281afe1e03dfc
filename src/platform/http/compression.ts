/**
 * Content coding of JSON answers (RFC 9110 §8.4, §12.5.3): `br` or `gzip` for a client that
 * accepts it, on answers of at least COMPRESSION_MIN_BYTES, always with `Vary: Accept-Encoding`.
 *
 * Two ways in:
 *  - `registerCompression`: an onSend hook for every JSON answer the app serializes (cart, orders,
 *    errors, …), compressed per answer in libuv's thread pool (node:zlib, no stream per answer);
 *  - `sendRepresentation`: for bytes that are kept (cached catalog pages, the OpenAPI document),
 *    whose compressed copies are kept beside them, so such an answer costs no compression at all.
 *
 * Written by hand rather than with @fastify/compress: that plugin pipes every answer through a
 * zlib stream (chunked, no Content-Length) and cannot send bytes compressed earlier with their own
 * entity tags; what remains here is negotiation (@fastify/accept-negotiator) and two zlib calls.
 *
 * Never compressed (BREACH: a secret in a compressed answer beside text an attacker chooses leaks
 * through the answer's length): any route whose answers carry a credential — a response schema
 * with a property named in SECRET_FIELDS (tokens, webhook secrets) — and any route that declares
 * `config: { compress: false }`.
 */
import { createHash } from 'node:crypto';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { Negotiator } from '@fastify/accept-negotiator';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

export type Encoding = 'br' | 'gzip';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: this route's answers are never compressed (they carry secrets). */
    compress?: boolean;
  }
}

/** Response properties that hold credentials; a route answering any of them is never compressed. */
export const SECRET_FIELDS = new Set(['access', 'refresh', 'token', 'secret', 'password', 'access_token', 'refresh_token']);

// Quality 5: within a few per cent of the best size on a catalog page at a fiftieth of quality
// 11's CPU (~0.5 ms against ~26 ms for 4 KB here); a kept page is compressed once anyway.
const BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } };

/** Accept-Encoding values seen, with their answer; bounded, as the header is the client's. */
const NEGOTIATED = 256;
const negotiated = new Map<string, Encoding | 'identity' | null>();
const negotiator = new Negotiator<Encoding | 'identity'>({
  supportedValues: ['br', 'gzip', 'identity'],
  cache: {
    has: (key) => negotiated.has(key),
    get: (key) => negotiated.get(key) ?? undefined,
    set(key, value) {
      if (negotiated.size >= NEGOTIATED) negotiated.clear();
      negotiated.set(key, value as Encoding | 'identity');
      return this;
    },
  },
});

/** The coding the client prefers among br and gzip, or undefined for the plain bytes. */
export function acceptedEncoding(request: FastifyRequest): Encoding | undefined {
  const header = request.headers['accept-encoding'];
  if (!header) return undefined;
  const chosen = negotiator.negotiate(header);
  return chosen === 'br' || chosen === 'gzip' ? chosen : undefined;
}

export function compress(bytes: Buffer, encoding: Encoding): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, out: Buffer) => (error ? reject(error) : resolve(out));
    if (encoding === 'br') brotliCompress(bytes, { ...BROTLI, params: { ...BROTLI.params, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }, done);
    else gzip(bytes, done);
  });
}

/** Adds Accept-Encoding to the answer's Vary, keeping what is there (CORS adds Origin). */
function varyOnEncoding(reply: FastifyReply) {
  const vary = reply.getHeader('vary');
  if (vary === undefined) void reply.header('vary', 'Accept-Encoding');
  else if (!/\baccept-encoding\b/i.test(String(vary))) void reply.header('vary', `${String(vary)}, Accept-Encoding`);
}

/** A strong entity tag of exactly these bytes. */
export const etagOf = (bytes: Buffer | string): string => `"${createHash('sha1').update(bytes).digest('base64url')}"`;

/** Bytes and their entity tag. */
export interface Encoded {
  bytes: Buffer;
  etag: string;
}

/**
 * Kept bytes: the plain JSON and, once made, its coded copies — each a representation of its own
 * with its own strong entity tag, the hash of the bytes sent (RFC 9110 §8.8.3.3: a content-coded
 * representation's strong tag differs from the plain one's).
 */
export interface Representation extends Encoded {
  /** False under COMPRESSION_MIN_BYTES: always sent plain, without Vary. */
  compressible: boolean;
  coded: Partial<Record<Encoding, Encoded>>;
  /** Compressions under way, shared by the requests that wait for them. */
  pending?: Partial<Record<Encoding, Promise<Encoded>>>;
}

export function representation(bytes: Buffer, minBytes: number, coded: Partial<Record<Encoding, Buffer>> = {}): Representation {
  const rep: Representation = { bytes, etag: etagOf(bytes), compressible: bytes.length >= minBytes, coded: {} };
  for (const encoding of ['br', 'gzip'] as const) {
    const b = coded[encoding];
    if (b) rep.coded[encoding] = { bytes: b, etag: etagOf(b) };
  }
  return rep;
}

/** The representation's copy in `encoding`, compressed once (concurrent askers share the work). */
export async function codedCopy(rep: Representation, encoding: Encoding): Promise<Encoded> {
  const known = rep.coded[encoding];
  if (known) return known;
  rep.pending ??= {};
  let pending = rep.pending[encoding];
  if (!pending) {
    pending = compress(rep.bytes, encoding).then((bytes) => {
      const encoded = { bytes, etag: etagOf(bytes) };
      rep.coded[encoding] = encoded;
      delete rep.pending![encoding];
      return encoded;
    });
    rep.pending[encoding] = pending;
  }
  return pending;
}

/** If-None-Match with the weak comparison (RFC 9110 §13.1.2) against the selected representation. */
function notModified(request: FastifyRequest, etag: string): boolean {
  const sent = request.headers['if-none-match'];
  if (!sent) return false;
  if (sent.trim() === '*') return true;
  return sent.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * Sends kept JSON bytes in the coding the client prefers, with that representation's ETag, or 304
 * when the client already has them. The copy in that coding is the kept one when there is one.
 */
export async function sendRepresentation(request: FastifyRequest, reply: FastifyReply, rep: Representation) {
  let chosen: Encoded = rep;
  let encoding: Encoding | undefined;
  if (rep.compressible) {
    varyOnEncoding(reply);
    encoding = acceptedEncoding(request);
    if (encoding) chosen = rep.coded[encoding] ?? (await codedCopy(rep, encoding));
  }
  void reply.header('etag', chosen.etag);
  if (notModified(request, chosen.etag)) return reply.code(304).send();
  if (encoding) void reply.header('content-encoding', encoding);
  return reply.type('application/json; charset=utf-8').send(chosen.bytes);
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/** Whether a response schema (TypeBox or a `content` map) names a credential among its properties. */
function carriesSecret(schema: unknown, depth = 0): boolean {
  if (schema === null || typeof schema !== 'object' || depth > 6) return false;
  const s = schema as Record<string, unknown>;
  if (s['properties'] && typeof s['properties'] === 'object') {
    for (const [name, value] of Object.entries(s['properties'] as Record<string, unknown>)) {
      if (SECRET_FIELDS.has(name) || carriesSecret(value, depth + 1)) return true;
    }
  }
  for (const key of ['content', 'schema', 'items', 'anyOf', 'oneOf', 'allOf']) {
    const inner = s[key];
    if (Array.isArray(inner) ? inner.some((x) => carriesSecret(x, depth + 1)) : inner && typeof inner === 'object' && carriesSecret(key === 'content' ? Object.values(inner) : inner, depth + 1)) {
      return true;
    }
  }
  return false;
}

/** Whether a route's declared answers carry a credential (then they are never compressed). */
export function routeCarriesSecret(route: Pick<RouteOptions, 'schema'>): boolean {
  const responses = (route.schema as { response?: Record<string, unknown> } | undefined)?.response;
  return !!responses && Object.values(responses).some((r) => carriesSecret(r));
}

/**
 * Compresses the JSON answers the app serializes. Must be registered before the routes: it marks
 * each route whose answers carry a secret as never compressed as the route is added.
 */
export function registerCompression(app: FastifyInstance, minBytes: number) {
  app.addHook('onRoute', (route) => {
    if (route.config?.compress === undefined && routeCarriesSecret(route)) route.config = { ...route.config, compress: false };
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.routeOptions.config?.compress === false || reply.hasHeader('content-encoding')) return done(null, payload);
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return done(null, payload);
    const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (length < minBytes || !JSON_TYPE.test(String(reply.getHeader('content-type') ?? ''))) return done(null, payload);
    varyOnEncoding(reply);
    const encoding = acceptedEncoding(request);
    if (!encoding) return done(null, payload);
    compress(typeof payload === 'string' ? Buffer.from(payload) : payload, encoding).then(
      (bytes) => {
        void reply.header('content-encoding', encoding);
        done(null, bytes);
      },
      (error: Error) => done(error),
    );
  });
}
