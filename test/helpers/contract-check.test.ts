/** The document-vs-responses check itself: it must catch each way an answer can leave the contract. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContractChecker, type Answer, type OpenApiDocument } from './contract-check.ts';
import { ContractViolation } from './contract-hook.ts';
import { buildTestApp, type TestApp } from './test-app.ts';

let t: TestApp;
let check: (answer: Answer) => string[];

beforeAll(async () => {
  t = await buildTestApp({
    routes: (app) => {
      app.get('/api/teapot', { config: { auth: 'public' } }, async (_request, reply) => reply.code(418).type('text/plain').send('short and stout'));
      app.get('/api/fixture-ok', { config: { auth: 'public' } }, async () => ({ anything: true }));
    },
  });
  check = createContractChecker(t.app.swagger() as unknown as OpenApiDocument).check;
});
afterAll(() => t.close());

const json = { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'r1' };
const problem = (status: number, code: string) =>
  JSON.stringify({ type: 'https://x/p', title: 'T', status, detail: 'd', code, request_id: 'r1' });

describe('the contract check', () => {
  it('accepts a documented answer', () => {
    expect(check({ method: 'GET', url: '/health/live', status: 200, headers: json, body: '{"status":"ok"}' })).toEqual([]);
    expect(check({ method: 'GET', url: '/api/catalog/products/x/', status: 404, headers: { ...json, 'content-type': 'application/problem+json' }, body: problem(404, 'not_found') })).toEqual([]);
  });

  it('refuses an undocumented status', () => {
    expect(check({ method: 'POST', url: '/api/orders/orders/', status: 200, headers: json, body: '{}' }).join()).toMatch(/status 200 is not documented/);
  });

  it('refuses an error documented as problem+json but sent as application/json', () => {
    expect(check({ method: 'GET', url: '/api/cart/', status: 401, headers: json, body: problem(401, 'not_authenticated') }).join()).toMatch(/media type "application\/json" is not documented/);
  });

  it('refuses a body that does not match its schema, and a code outside the enum', () => {
    expect(check({ method: 'GET', url: '/health/live', status: 200, headers: json, body: '{"status":1}' }).join()).toMatch(/body\/status must be string/);
    const problemHeaders = { ...json, 'content-type': 'application/problem+json' };
    expect(check({ method: 'GET', url: '/api/cart/', status: 401, headers: problemHeaders, body: problem(401, 'nope') }).join()).toMatch(/body\/code must be equal to one of the allowed values/);
  });

  it('refuses an answer without X-Request-Id, and a problem whose request_id is another', () => {
    expect(check({ method: 'GET', url: '/health/live', status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' })).toEqual(['no X-Request-Id header']);
    const headers = { 'content-type': 'application/problem+json', 'x-request-id': 'other' };
    expect(check({ method: 'GET', url: '/api/nowhere', status: 404, headers, body: problem(404, 'not_found') }).join()).toMatch(/request_id r1 is not the X-Request-Id other/);
  });

  it('refuses a success from an undocumented operation, and a non-problem error outside every operation', () => {
    expect(check({ method: 'GET', url: '/api/nowhere/', status: 200, headers: json, body: '{}' }).join()).toMatch(/undocumented operation/);
    expect(check({ method: 'GET', url: '/x', status: 414, headers: json, body: '{"statusCode":414}' }).join()).toMatch(/media type/);
  });

  it('reads the media type without its charset, and keeps its other parameters', () => {
    const metrics = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'x-request-id': 'r1' };
    expect(check({ method: 'GET', url: '/metrics', status: 200, headers: metrics, body: '# HELP x\n' })).toEqual([]);
  });
});

describe('the hook on every test app', () => {
  it('makes the inject call that got a broken answer throw, naming what broke', async () => {
    await expect(t.app.inject({ method: 'GET', url: '/api/teapot' })).rejects.toThrow(ContractViolation);
    await expect(t.app.inject({ method: 'GET', url: '/api/teapot' })).rejects.toThrow(/418 breaks the OpenAPI document/);
  });

  it('leaves the successful answers of a test fixture route alone, and keeps fixtures out of the document', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/fixture-ok' })).statusCode).toBe(200);
    expect(Object.keys((t.app.swagger() as unknown as OpenApiDocument).paths)).not.toContain('/api/fixture-ok/');
  });
});
