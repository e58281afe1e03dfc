/**
 * Guest browsing (CATALOG_PUBLIC=true): the catalog's reads answer without a token, each address
 * within its per-minute budget; everything else still needs one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let staff: TestUser;
let productId: string;

beforeAll(async () => {
  t = await buildTestApp({ env: { CATALOG_PUBLIC: 'true', CATALOG_GUEST_PER_MINUTE: '6' } });
  staff = await createUser(t, { staff: true });
  const res = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Guest Green Tea', price: '2.00', quantity: 3 } });
  productId = res.json().id;
});
afterAll(() => t.close());

it('lets a guest browse, search, suggest and list categories without a token, within a per-address budget', async () => {
  const from = (remoteAddress: string, url: string) => t.app.inject({ method: 'GET', url, remoteAddress });
  const urls = ['/api/catalog/products/?search=gren', `/api/catalog/products/${productId}/`, '/api/catalog/suggest/?q=gre', '/api/catalog/categories/'];
  for (const url of urls) {
    const res = await from('198.51.100.7', url);
    expect(res.statusCode, `${url} ${res.body}`).toBe(200);
  }
  expect((await from('198.51.100.7', urls[0]!)).json().results[0].name).toBe('Guest Green Tea');
  await from('198.51.100.7', urls[0]!);
  const over = await from('198.51.100.7', urls[0]!);
  expect(over.statusCode).toBe(429);
  expect(over.headers['retry-after']).toBeDefined();
  // Another address has its own budget; a signed-in customer is not counted as a guest.
  expect((await from('198.51.100.8', urls[0]!)).statusCode).toBe(200);
  const customer = await createUser(t);
  const signedIn = await t.app.inject({ method: 'GET', url: urls[0]!, headers: customer.auth, remoteAddress: '198.51.100.7' });
  expect(signedIn.statusCode).toBe(200);
  // A token that is sent is still checked.
  const bad = await t.app.inject({ method: 'GET', url: urls[0]!, headers: { authorization: 'Bearer not-a-token' }, remoteAddress: '198.51.100.9' });
  expect(bad.statusCode).toBe(401);
});

it('still requires a token for everything else', async () => {
  expect((await t.app.inject({ method: 'GET', url: '/api/cart/' })).statusCode).toBe(401);
  expect((await t.app.inject({ method: 'POST', url: '/api/catalog/products/', payload: { name: 'X', price: '1.00', quantity: 1 } })).statusCode).toBe(401);
  expect((await t.app.inject({ method: 'GET', url: `/api/catalog/products/${productId}/inventory/` })).statusCode).toBe(401);
});
