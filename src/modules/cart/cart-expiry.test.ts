/**
 * Invariant 4: an abandoned cart's units come back after CART_TTL_SECONDS with nothing running
 * (no job, no sweep: the test waits out a 2 s TTL and reads).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  t = await buildTestApp({ env: { CART_TTL_SECONDS: '2' } });
  [alice, bob] = await Promise.all([createUser(t), createUser(t)]);
});
afterAll(() => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const put = (user: TestUser, productId: string, quantity: number) =>
  t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: user.auth, payload: { quantity } });

it('frees the units of an abandoned cart once its TTL has passed, with no job running', async () => {
  const p = await createProduct(t, { stock: 3 });
  const held = await put(alice, p.id, 3);
  expect(held.statusCode).toBe(200);
  expect(Date.parse(held.json().expires_at) - Date.now()).toBeLessThanOrEqual(2000);
  expect((await put(bob, p.id, 1)).statusCode).toBe(409);

  await sleep(2300);
  const product = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: bob.auth });
  expect(product.json().quantity).toBe(3);
  expect((await put(bob, p.id, 3)).statusCode).toBe(200);
  expect((await t.app.inject({ method: 'GET', url: '/api/cart/', headers: alice.auth })).json()).toEqual({ items: [], total: '0.00', expires_at: null });
});

it('keeps a cart alive while it keeps changing', async () => {
  const [p, q] = await Promise.all([createProduct(t, { stock: 2 }), createProduct(t, { stock: 2 })]);
  await put(alice, p.id, 2);
  await sleep(1200);
  await put(alice, q.id, 1);
  await sleep(1200);
  // p was put 2.4 s ago, but the later change refreshed the whole cart's TTL.
  expect((await put(bob, p.id, 1)).statusCode).toBe(409);
  const lines = (await t.app.inject({ method: 'GET', url: '/api/cart/', headers: alice.auth })).json().items;
  expect(lines).toHaveLength(2);
});
