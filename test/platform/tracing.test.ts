/**
 * Tracing (src/platform/tracing.ts) with spans kept in memory: one trace from the HTTP request
 * through PostgreSQL (pg on a real server, PGlite embedded) and Redis (when TEST_REDIS_URL is set),
 * the caller's `traceparent` continued and the server span's returned, and the trace id on the
 * request's log lines. The app listens on a real port: the HTTP span comes from node:http.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.ts';
import { startTracing, type Tracing } from '../../src/platform/tracing.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { testDatabaseUrl, testRedisUrl } from '../helpers/test-env.ts';

// Turns tracing on in the config; nothing is sent there, the spans go to the in-memory exporter.
const TRACED = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' };
const spans = new InMemorySpanExporter();
const lines: Array<Record<string, unknown>> = [];
let tracing: Tracing | undefined;
let t: TestApp;
let base: string;
let user: TestUser;

beforeAll(async () => {
  // Before the app: the Redis client must be created once ioredis is instrumented.
  tracing = await startTracing(loadConfig(TRACED), pino({ level: 'silent' }), { exporter: spans });
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await buildTestApp({
    logStream,
    env: TRACED,
    routes: (app) => {
      app.get('/api/log-twice', { config: { auth: 'public' } }, async (request) => {
        request.log.info('handler ran');
        return { ok: true };
      });
    },
  });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  user = await createUser(t);
});
afterAll(async () => {
  await t?.close();
  await tracing?.shutdown();
});

const traceparent = (traceId: string, spanId = randomBytes(8).toString('hex')) => `00-${traceId}-${spanId}-01`;

/** The spans of one trace, once its server span has ended (the response is sent just before). */
async function traceOf(traceId: string): Promise<ReadableSpan[]> {
  for (let i = 0; i < 50; i++) {
    const found = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    if (found.some((s) => s.parentSpanContext?.isRemote || !s.parentSpanContext)) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no server span for trace ${traceId}`);
}

describe('a traced request', () => {
  it('is one trace from HTTP through PostgreSQL and Redis, continuing the caller’s traceparent', async () => {
    const product = await createProduct(t, { stock: 5 });
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const res = await fetch(`${base}/api/cart/items/${product.id}/`, {
      method: 'PUT',
      headers: { ...user.auth, 'content-type': 'application/json', traceparent: traceparent(traceId, callerSpan) },
      body: JSON.stringify({ quantity: 2 }),
    });
    expect(res.status).toBe(200);

    const trace = await traceOf(traceId);
    const server = trace.find((s) => s.parentSpanContext?.spanId === callerSpan)!;
    expect(server.name).toBe('PUT /api/cart/items/:product_id');
    expect(server.attributes['http.route']).toBe('/api/cart/items/:product_id');
    // The answer names the server span, in the caller's trace.
    expect(res.headers.get('traceparent')).toBe(`00-${traceId}-${server.spanContext().spanId}-01`);

    const inside = trace.filter((s) => s !== server);
    const sql = inside.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(sql.length).toBeGreaterThan(0);
    expect(sql.map((s) => s.name).join(' ')).toMatch(testDatabaseUrl ? /pg\.query:SELECT/ : /pglite\.query:SELECT/);
    // The statement is there, the values are not.
    expect(sql.map((s) => String(s.attributes['db.query.text'])).join('\n')).not.toContain(product.id);
    if (testRedisUrl) {
      const redis = inside.filter((s) => s.attributes['db.system.name'] === 'redis');
      expect(redis.map((s) => s.name)).toEqual(expect.arrayContaining(['mget']));
      for (const s of redis) expect(s.attributes['db.query.text']).toBe(s.name);
    }
    // Every span hangs off the server span (directly or through another span of the trace).
    const ids = new Set(trace.map((s) => s.spanContext().spanId));
    for (const s of inside) expect(ids.has(s.parentSpanContext!.spanId)).toBe(true);
  });

  it('starts a trace of its own without traceparent, and returns it', async () => {
    const res = await fetch(`${base}/api/catalog/products/`, { headers: user.auth });
    expect(res.status).toBe(200);
    const [, traceId, spanId, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/.exec(res.headers.get('traceparent') ?? '') ?? [];
    expect(flags).toBe('01');
    const server = (await traceOf(traceId!)).find((s) => s.spanContext().spanId === spanId)!;
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.name).toBe('GET /api/catalog/products/');
  });

  it('puts the trace id on every log line of the request', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${base}/api/log-twice`, { headers: { traceparent: traceparent(traceId), 'x-request-id': `log-${traceId}` } });
    expect(res.status).toBe(200);
    await traceOf(traceId);
    const mine = lines.filter((l) => l.request_id === `log-${traceId}`);
    expect(mine.map((l) => l.msg)).toEqual(['handler ran', 'request completed']);
    for (const line of mine) expect(line.trace_id).toBe(traceId);
  });

  it('leaves health probes untraced', async () => {
    const before = spans.getFinishedSpans().length;
    const res = await fetch(`${base}/health/live`);
    expect(res.status).toBe(200);
    expect(res.headers.get('traceparent')).toBeNull();
    await new Promise((r) => setTimeout(r, 50));
    expect(spans.getFinishedSpans().length).toBe(before);
  });
});

describe('with OTEL_EXPORTER_OTLP_ENDPOINT unset', () => {
  it('returns no traceparent and logs no trace id', async () => {
    const untracedLines: Array<Record<string, unknown>> = [];
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) untracedLines.push(JSON.parse(line));
        done();
      },
    });
    const plain = await buildTestApp({ logStream });
    try {
      const customer = await createUser(plain);
      const at = await plain.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`${at}/api/catalog/products/`, { headers: { ...customer.auth, traceparent: traceparent(randomBytes(16).toString('hex')) } });
      expect(res.status).toBe(200);
      expect(res.headers.get('traceparent')).toBeNull();
      expect(untracedLines.length).toBeGreaterThan(0);
      for (const line of untracedLines) expect(line).not.toHaveProperty('trace_id');
    } finally {
      await plain.close();
    }
  });

  it('starts nothing', async () => {
    expect(await startTracing(loadConfig({}), pino({ level: 'silent' }))).toBeUndefined();
  });
});
