/**
 * Issue 23, findings 5 and 6, on production settings: what a body can cost the service.
 *  5. One unauthenticated 1 MB body (80,000 unknown keys to POST register/) held the event loop
 *     for ~0.5 s while every error was listed; each route now has a body limit that fits it, and
 *     at most 10 errors are reported, computed on a bounded view of the body.
 *  6. Deeply nested JSON overflowed the recursive NUL check: a 500 from ~2,000 levels.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), SMTP_URL: 'smtp://127.0.0.1:1' };

let t: TestApp;
let customer: TestUser;
let staff: TestUser;
beforeAll(async () => {
  t = await buildTestApp({ env: PRODUCTION });
  [customer, staff] = await Promise.all([createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t?.close());

const json = { 'content-type': 'application/json' };
const unknownKeys = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json: () => { code: string } }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
}

describe('finding 5: body size and validation cost', () => {
  it('refuses the 1 MB body of 80,000 unknown keys to POST register/ with 413 payload_too_large', async () => {
    const body = unknownKeys(80_000);
    expect(body.length).toBeGreaterThan(1_000_000);
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/register/', headers: json, payload: body });
    expectProblem(res, 413, 'payload_too_large');
  });

  it('gives identity routes a few KB: a 9 KB sign-in body is 413, nothing looked up', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/token/', headers: json, payload: { username: 'someone', password: 'p'.repeat(9 * 1024) } });
    expectProblem(res, 413, 'payload_too_large');
  });

  it('still admits the largest valid bodies: 100 order lines, a 10,000-character description', async () => {
    const lines = Array.from({ length: 100 }, () => ({ product: randomUUID(), quantity: 1 }));
    const order = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...customer.auth, ...json }, payload: JSON.stringify({ order_items: lines }, null, 2) });
    // Past the limit and the schema: the products do not exist.
    expectProblem(order, 422, 'unknown_product');
    const product = await t.app.inject({
      method: 'POST',
      url: '/api/catalog/products/',
      headers: staff.auth,
      payload: { name: 'Long description', description: 'é'.repeat(10_000), price: '1.00', quantity: 1 },
    });
    expect(product.statusCode).toBe(201);
  });

  it('reports at most 10 errors, however many the body holds', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/register/', headers: json, payload: unknownKeys(600) });
    expectProblem(res, 400, 'validation_failed');
    expect(res.json().errors.length).toBeGreaterThan(0);
    expect(res.json().errors.length).toBeLessThanOrEqual(10);
    const staffBody = await t.app.inject({ method: 'PATCH', url: `/api/catalog/products/${randomUUID()}/`, headers: { ...staff.auth, ...json }, payload: unknownKeys(5_000) });
    expectProblem(staffBody, 400, 'validation_failed');
    expect(staffBody.json().errors.length).toBeLessThanOrEqual(10);
  });
});

describe('finding 6: deeply nested JSON', () => {
  const publicRoutes = ['/api/identity/register/', '/api/identity/token/', '/api/identity/token/refresh/', '/api/identity/token/verify/', '/api/identity/password-reset/', '/api/identity/password-reset/confirm/'];

  it('is a 400 naming the body on every public route, unauthenticated (3,000 levels fit its limit)', async () => {
    for (const url of publicRoutes) {
      for (const payload of [nestedArrays(3_000), nestedObjects(1_200), `{"username": ${nestedArrays(3_000)}}`]) {
        const res = await t.app.inject({ method: 'POST', url, headers: json, payload });
        expectProblem(res, 400, 'validation_failed');
        expect(res.json().errors).toEqual([{ field: 'body', message: expect.stringMatching(/nest deeper than \d+ levels/) }]);
      }
    }
  });

  it('is never a 500 at 10,000 levels, signed in or not, on every kind of route', async () => {
    const deep = nestedArrays(10_000);
    const targets = [
      ...publicRoutes.map((url) => ({ method: 'POST' as const, url, headers: json })),
      { method: 'POST' as const, url: '/api/orders/orders/', headers: json },
      { method: 'POST' as const, url: '/api/orders/orders/', headers: { ...json, ...customer.auth } },
      { method: 'PUT' as const, url: `/api/cart/items/${randomUUID()}/`, headers: { ...json, ...customer.auth } },
      { method: 'PATCH' as const, url: '/api/identity/me/', headers: { ...json, ...customer.auth } },
    ];
    for (const target of targets) {
      const res = await t.app.inject({ ...target, payload: deep });
      expect(res.statusCode, `${target.method} ${target.url}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, `${target.method} ${target.url}`).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    // A staff product body may be 64 KB: 10,000 levels reach the check itself.
    const product = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: { ...json, ...staff.auth }, payload: `{"name": ${deep}}` });
    expectProblem(product, 400, 'validation_failed');
  });

  it('at the bound the API allows still works: NULs are found at any allowed depth', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...customer.auth }, payload: { order_items: [{ product: 'a\u0000', quantity: 1 }] } });
    expectProblem(res, 400, 'validation_failed');
    expect(res.json().errors.map((e: { field: string }) => e.field)).toEqual(['order_items/0/product']);
  });
});
