/**
 * Issue 23, findings 8, 9, 10 and 13, through HTTP on production settings with CORS on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

const ORIGIN = 'https://shop.example.com';
const METRICS_TOKEN = 'scraper-token-0123456789abcdef';
const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), SMTP_URL: 'smtp://127.0.0.1:1', CORS_ORIGINS: ORIGIN, METRICS_TOKEN };

let t: TestApp;
let customer: TestUser;
let staff: TestUser;
beforeAll(async () => {
  t = await buildTestApp({ env: PRODUCTION });
  [customer, staff] = await Promise.all([createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t?.close());

describe('finding 8: the hourly stats day', () => {
  it('is 400 outside 2000–2999 or not a calendar day, where PostgreSQL answered 500', async () => {
    for (const date of ['9999-12-31', '0000-01-01', '1999-12-31', '2026-02-30', '2026-13-01']) {
      const res = await t.app.inject({ method: 'GET', url: `/api/orders/stats/hourly/?date=${date}`, headers: staff.auth });
      expect(res.statusCode, date).toBe(400);
      expect(res.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'date' }] });
    }
    for (const date of ['2000-01-01', '2999-12-31', '2028-02-29']) {
      const res = await t.app.inject({ method: 'GET', url: `/api/orders/stats/hourly/?date=${date}`, headers: staff.auth });
      expect(res.statusCode, date).toBe(200);
    }
  });
});

describe('finding 9: Cache-Control on tokens and personal data', () => {
  it('says no-store on the token answers', async () => {
    const signIn = await t.app.inject({ method: 'POST', url: '/api/identity/token/', payload: { username: customer.username, password: customer.password }, remoteAddress: '10.9.9.1' });
    expect(signIn.statusCode).toBe(200);
    expect(signIn.headers['cache-control']).toBe('no-store');
    const refresh = await t.app.inject({ method: 'POST', url: '/api/identity/token/refresh/', payload: { refresh: signIn.json().refresh } });
    expect(refresh.statusCode).toBe(200);
    expect(refresh.headers['cache-control']).toBe('no-store');
  });

  it('says no-store on the profile, the cart and the orders', async () => {
    const product = await createProduct(t, { stock: 5 });
    await t.app.inject({ method: 'PUT', url: `/api/cart/items/${product.id}/`, headers: customer.auth, payload: { quantity: 1 } });
    const order = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
    expect(order.statusCode).toBe(201);
    for (const url of ['/api/identity/me/', '/api/cart/', '/api/orders/orders/', `/api/orders/orders/${order.json().id}/`]) {
      const res = await t.app.inject({ method: 'GET', url, headers: customer.auth });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['cache-control'], url).toBe('no-store');
    }
    expect(order.headers['cache-control']).toBe('no-store');
  });

  it('keeps product pages revalidatable by their ETag (private)', async () => {
    const product = await createProduct(t, { stock: 5 });
    const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${product.id}/`, headers: customer.auth });
    expect(res.headers['cache-control']).toBe('private, no-cache');
  });
});

describe('finding 10: CORS when on', () => {
  it('lets a browser use every method of the API and read the headers the contract names', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const preflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/api/cart/',
        headers: { origin: ORIGIN, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(preflight.statusCode).toBeLessThan(300);
      expect(preflight.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(String(preflight.headers['access-control-allow-methods']).split(/,\s*/)).toEqual(expect.arrayContaining(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']));
    }
    const res = await t.app.inject({ method: 'GET', url: '/api/cart/', headers: { ...customer.auth, origin: ORIGIN } });
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'retry-after', 'location', 'etag', 'idempotent-replayed']));
  });

  it('still allows no other origin', async () => {
    const preflight = await t.app.inject({ method: 'OPTIONS', url: '/api/cart/', headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' } });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('finding 12: deep offsets', () => {
  it('refuses an offset past 10,000 on every offset list, the catalog pointing to its cursor', async () => {
    const lists = [
      { url: '/api/catalog/products/', who: customer, cursor: true },
      { url: '/api/orders/orders/', who: customer, cursor: false },
      { url: '/api/orders/orders/', who: staff, cursor: false },
      { url: '/api/identity/customers/', who: staff, cursor: false },
    ];
    for (const list of lists) {
      const deep = await t.app.inject({ method: 'GET', url: `${list.url}?offset=10001`, headers: list.who.auth });
      expect(deep.statusCode, list.url).toBe(400);
      expect(deep.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'offset' }] });
      if (list.cursor) expect(deep.json().detail).toMatch(/cursor/);
      const deepest = await t.app.inject({ method: 'GET', url: `${list.url}?offset=10000`, headers: list.who.auth });
      expect(deepest.statusCode, list.url).toBe(200);
    }
  });
});

describe('finding 13: request id, bearer header, methods, metrics', () => {
  it('keeps a client X-Request-Id only in a safe shape, else makes a fresh one', async () => {
    const kept = await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'app-1.2:req_9-x' } });
    expect(kept.headers['x-request-id']).toBe('app-1.2:req_9-x');
    for (const sent of ['"},{"admin":true', 'a b', '<script>', 'x'.repeat(129), 'id=1;role=staff']) {
      const res = await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': sent } });
      expect(res.headers['x-request-id'], sent).not.toBe(sent);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('refuses a bearer header with anything after the token (401)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: { authorization: `Bearer ${customer.access} extra` } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: customer.auth })).statusCode).toBe(200);
  });

  it('answers a method a path does not have with 405 method_not_allowed and Allow', async () => {
    const cases = [
      { method: 'DELETE' as const, url: '/api/identity/token/', allow: ['POST'] },
      { method: 'PUT' as const, url: '/api/orders/orders', allow: ['GET', 'HEAD', 'POST'] },
      { method: 'POST' as const, url: '/health/live', allow: ['GET', 'HEAD'] },
    ];
    for (const c of cases) {
      const res = await t.app.inject({ method: c.method, url: c.url, headers: customer.auth });
      expect(res.statusCode, `${c.method} ${c.url}`).toBe(405);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe('method_not_allowed');
      expect(String(res.headers.allow).split(', ')).toEqual(expect.arrayContaining(c.allow));
    }
    const unknown = await t.app.inject({ method: 'GET', url: '/api/identity/nothing-here/' });
    expect(unknown.statusCode).toBe(404);
  });

  it('serves /metrics in production only to the scraper holding METRICS_TOKEN', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: staff.auth })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong-token-0123456789abcd' } })).statusCode).toBe(401);
    const scraped = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toMatch(/http_request_duration/);
  });
});
