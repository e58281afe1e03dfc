/**
 * Security review (issue 23), finding 4: every PUT pushed a cart's expiry forward, so a customer
 * could keep units from everyone else for ever. A cart's holds now end CART_HOLD_MAX_SECONDS after
 * its first line was put, however often it changes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

const TTL_S = 4;
const MAX_S = 6;
let t: TestApp;
let hoarder: TestUser;
let honest: TestUser;
let staff: TestUser;

beforeAll(async () => {
  t = await buildTestApp({ env: { CART_TTL_SECONDS: String(TTL_S), CART_HOLD_MAX_SECONDS: String(MAX_S) } });
  [hoarder, honest, staff] = await Promise.all([createUser(t), createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const put = (user: TestUser, productId: string, quantity: number) =>
  t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: user.auth, payload: { quantity } });

it('ends a cart’s holds CART_HOLD_MAX_SECONDS after its first put, however often it is put again', async () => {
  const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Scarce', price: '5.00', quantity: 3 } });
  const productId = created.json().id as string;

  const started = Date.now();
  const first = await put(hoarder, productId, 3);
  expect(first.statusCode).toBe(200);
  const deadline = started + MAX_S * 1000;
  // Putting the line again and again never moves the expiry past the cap.
  while (Date.now() < deadline - 1500) {
    const again = await put(hoarder, productId, 3);
    expect(again.statusCode).toBe(200);
    expect(Date.parse(again.json().expires_at)).toBeLessThanOrEqual(deadline + 1000);
    await sleep(250);
  }
  expect((await put(honest, productId, 1)).statusCode).toBe(409);

  // Once the lifetime is over the units come back, with nothing running: the honest customer gets them.
  let honestStatus = 0;
  while (Date.now() < deadline + 5000 && honestStatus !== 200) {
    honestStatus = (await put(honest, productId, 3)).statusCode;
    if (honestStatus !== 200) await sleep(200);
  }
  expect(honestStatus).toBe(200);
  const cart = await t.app.inject({ method: 'GET', url: '/api/cart/', headers: hoarder.auth });
  expect(cart.json()).toEqual({ items: [], total: '0.00', expires_at: null });
});

it('gives a new cart a lifetime of its own after the old one was cleared', async () => {
  const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Plenty', price: '1.00', quantity: 10 } });
  const productId = created.json().id as string;
  expect((await put(honest, productId, 1)).statusCode).toBe(200);
  await sleep(2500);
  expect((await t.app.inject({ method: 'DELETE', url: '/api/cart/', headers: honest.auth })).statusCode).toBe(204);
  const fresh = await put(honest, productId, 1);
  // A full TTL again, not what was left of the cleared cart's lifetime (about 3.5 s).
  expect(Date.parse(fresh.json().expires_at) - Date.now()).toBeGreaterThan((TTL_S - 1) * 1000);
});
