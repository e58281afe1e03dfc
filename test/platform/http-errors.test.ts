import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp({
    routes: (app) => {
      app.post(
        '/api/echo',
        {
          config: { auth: 'public' },
          schema: { body: Type.Object({ name: Type.String({ minLength: 1 }), items: Type.Array(Type.Object({ quantity: Type.Integer({ minimum: 1 }) })) }) },
        },
        async (request) => request.body,
      );
      app.get('/api/boom', { config: { auth: 'public' } }, async () => {
        throw new Error('select * from secret_table where password = 42');
      });
    },
  });
});
afterAll(() => t.close());

function expectProblem(res: { headers: Record<string, unknown>; json: () => Record<string, unknown> }, status: number, code: string) {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({ status, code });
  expect(body.request_id).toBe(res.headers['x-request-id']);
  expect(typeof body.title).toBe('string');
  return body;
}

describe('problem+json errors', () => {
  it('answers an unknown route with 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/nowhere' });
    expect(res.statusCode).toBe(404);
    expectProblem(res, 404, 'not_found');
  });

  it('answers malformed JSON with 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/echo', headers: { 'content-type': 'application/json' }, payload: '{"name": "x",' });
    expect(res.statusCode).toBe(400);
    expectProblem(res, 400, 'validation_failed');
  });

  it('answers a 2 MB body with 413', async () => {
    const payload = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), items: [] });
    const res = await t.app.inject({ method: 'POST', url: '/api/echo', headers: { 'content-type': 'application/json' }, payload });
    expect(res.statusCode).toBe(413);
    expectProblem(res, 413, 'payload_too_large');
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/echo', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(res.statusCode).toBe(415);
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('lists each invalid field with its path', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/echo', payload: { name: 'x', items: [{ quantity: 0 }] } });
    expect(res.statusCode).toBe(400);
    const body = expectProblem(res, 400, 'validation_failed');
    expect(body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'items/0/quantity' })]));
  });

  it('names a missing required field', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/echo', payload: { items: [] } });
    expect(res.statusCode).toBe(400);
    const body = expectProblem(res, 400, 'validation_failed');
    expect(JSON.stringify(body.errors)).toContain('name');
  });

  it('hides the cause of a fault behind a 500 with a request id', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/boom', headers: { 'x-request-id': 'trace-me-123' } });
    expect(res.statusCode).toBe(500);
    const body = expectProblem(res, 500, 'internal_error');
    expect(body.request_id).toBe('trace-me-123');
    expect(res.body).not.toMatch(/secret_table|password|at .*\.ts/);
  });

  it('works with and without a trailing slash', async () => {
    const a = await t.app.inject({ method: 'POST', url: '/api/echo/', payload: { name: 'x', items: [] } });
    expect(a.statusCode).toBe(200);
  });
});

describe('request ids', () => {
  it('echoes a sent X-Request-Id and generates one otherwise', async () => {
    const sent = await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
    expect(sent.headers['x-request-id']).toBe('abc-123');
    const generated = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces an id with control characters or excessive length', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'x'.repeat(300) } });
    expect(res.headers['x-request-id']).not.toBe('x'.repeat(300));
  });
});

describe('operations endpoints', () => {
  it('reports live and ready with the dependencies it checked', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.database).toBe('ok');
  });

  it('serves an OpenAPI 3 document and the docs page', async () => {
    const doc = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(doc.json().openapi).toMatch(/^3\./);
    const docs = await t.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });

  it('exposes request durations by route and status in Prometheus format', async () => {
    await t.app.inject({ method: 'GET', url: '/health/live' });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/health\/live",status="200"\} \d+/);
  });

  it('sends security headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
  });
});
