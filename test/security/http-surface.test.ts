/**
 * Issue 23, findings 8, 9, 10 and 13, through HTTP on production settings with CORS on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

const ORIGIN = 'https://shop.example.com';
const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), SMTP_URL: 'smtp://127.0.0.1:1', CORS_ORIGINS: ORIGIN };

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
