/**
 * Mass assignment and object-level reads (OWASP API Top 10: API3, API1). Members a client must not
 * set — is_staff, is_active, id, price, total, status, customer, version, stock — sent where they
 * do not belong have no effect: the request is refused whole (400, nothing changed) or they are
 * ignored. And each customer reads only their own profile, orders and cart.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { snapshot, type Snapshot } from '../helpers/state-snapshot.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

const FORGED_ID = '01890000-0000-7000-8000-000000000001';
const FORGED = { is_staff: true, is_active: false, id: FORGED_ID, price: '0.01', total: '0.01', status: 'shipped', customer: FORGED_ID, version: 99, stock: 999_999 };

let t: TestApp;
let a: TestUser;
let b: TestUser;
let staff: TestUser;

beforeAll(async () => {
  t = await buildTestApp();
  a = await createUser(t);
  b = await createUser(t);
  staff = await createUser(t, { staff: true });
});
afterAll(async () => t?.close());

/** Either refused whole (400 validation_failed, nothing changed) or accepted with `ignored` holding. */
async function noEffect(res: LightMyRequestResponse, before: Snapshot, ignored: () => Promise<void> | void) {
  if (res.statusCode === 400) {
    expect(res.json().code).toBe('validation_failed');
    expect(await snapshot(t)).toEqual(before);
    return;
  }
  expect(res.statusCode, res.body).toBeLessThan(300);
  await ignored();
}

const as = (user: TestUser) => user.auth;

describe('mass assignment has no effect', () => {
  it('register: is_staff, is_active and id are not taken from the body', async () => {
    const before = await snapshot(t);
    const account = { username: 'mallory', email: 'mallory@example.com', password: 'correct horse battery' };
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/register/', payload: { ...account, ...FORGED } });
    await noEffect(res, before, async () => {
      expect(res.json().id).not.toBe(FORGED_ID);
      const tokens = await login(t, account.username, account.password);
      const me = await t.app.inject({ url: '/api/identity/me/', headers: { authorization: `Bearer ${tokens.access}` } });
      expect(me.json()).toMatchObject({ is_staff: false, id: res.json().id });
      const staffOnly = await t.app.inject({ url: '/api/identity/customers/', headers: { authorization: `Bearer ${tokens.access}` } });
      expect(staffOnly.statusCode).toBe(403);
    });
  });

  it('PATCH me: is_staff, is_active, id and username stay as they were', async () => {
    const before = await snapshot(t);
    const res = await t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: as(a), payload: { first_name: 'Ada', username: 'root', ...FORGED } });
    await noEffect(res, before, async () => {
      const me = (await t.app.inject({ url: '/api/identity/me/', headers: as(a) })).json();
      expect(me).toMatchObject({ id: a.id, username: a.username, is_staff: false });
    });
    expect((await t.app.inject({ url: '/api/identity/customers/', headers: as(a) })).statusCode).toBe(403);
  });

  it('staff creating or editing a customer cannot make them staff', async () => {
    const before = await snapshot(t);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/identity/customers/',
      headers: as(staff),
      payload: { username: 'eve', email: 'eve@example.com', password: 'correct horse battery', is_staff: true, id: FORGED_ID },
    });
    await noEffect(created, before, async () => {
      expect(created.json().id).not.toBe(FORGED_ID);
    });
    const before2 = await snapshot(t);
    const patched = await t.app.inject({ method: 'PATCH', url: `/api/identity/customers/${b.id}/`, headers: as(staff), payload: { is_staff: true, id: FORGED_ID } });
    await noEffect(patched, before2, () => undefined);
    const me = (await t.app.inject({ url: '/api/identity/me/', headers: as(b) })).json();
    expect(me).toMatchObject({ id: b.id, is_staff: false });
  });

  it('orders: price, total, status, customer and id come from the server', async () => {
    const product = await createProduct(t, { stock: 10, priceCents: 1250 });
    const before = await snapshot(t);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/orders/orders/',
      headers: as(a),
      payload: { ...FORGED, created_at: '2000-01-01T00:00:00Z', order_items: [{ product: product.id, quantity: 2, price: '0.01', line_total: '0.02', name: 'free' }] },
    });
    await noEffect(res, before, async () => {
      const order = res.json();
      expect(order).toMatchObject({ customer: a.id, status: 'confirmed', total: '25.00', cancel_reason: null });
      expect(order.id).not.toBe(FORGED_ID);
      expect(order.order_items).toEqual([expect.objectContaining({ price: '12.50', line_total: '25.00', name: product.name })]);
      expect(await stockOf(t, product.id)).toBe(8);
      // Not in someone else's history either.
      const other = (await t.app.inject({ url: '/api/orders/orders/', headers: as(b) })).json();
      expect(other.results.map((o: { id: string }) => o.id)).not.toContain(order.id);
    });
  });

  it('cart and checkout: a client-sent price, total or customer is never read', async () => {
    const product = await createProduct(t, { stock: 10, priceCents: 700 });
    const put = await t.app.inject({ method: 'PUT', url: `/api/cart/items/${product.id}/`, headers: as(b), payload: { quantity: 3, ...FORGED } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ total: '21.00', items: [{ product: product.id, price: '7.00', quantity: 3, line_total: '21.00' }] });
    const checkout = await t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: as(b), payload: FORGED });
    expect(checkout.statusCode, checkout.body).toBe(201);
    expect(checkout.json()).toMatchObject({ customer: b.id, status: 'confirmed', total: '21.00' });
  });

  it('cancel: a status in the body does not choose the outcome', async () => {
    const product = await createProduct(t, { stock: 5 });
    const order = (await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: as(a), payload: { order_items: [{ product: product.id, quantity: 1 }] } })).json();
    const res = await t.app.inject({ method: 'POST', url: `/api/orders/orders/${order.id}/cancel/`, headers: as(a), payload: { status: 'shipped', cancel_reason: 'staff' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', cancel_reason: 'customer' });
    expect(await stockOf(t, product.id)).toBe(5);
  });

  it('staff editing a product: id, version, stock and archived are not fields of the product body', async () => {
    const product = await createProduct(t, { stock: 4, priceCents: 100 });
    for (const method of ['PATCH', 'PUT'] as const) {
      const before = await snapshot(t);
      const res = await t.app.inject({
        method,
        url: `/api/catalog/products/${product.id}/`,
        headers: as(staff),
        payload: { name: 'Same', price: '1.00', quantity: 4, id: FORGED_ID, version: 99, stock: 999_999, archived: true, created_at: '2000-01-01T00:00:00Z' },
      });
      await noEffect(res, before, async () => {
        expect(res.json()).toMatchObject({ id: product.id, quantity: 4 });
      });
    }
    const read = await t.app.inject({ url: `/api/catalog/products/${product.id}/`, headers: as(a) });
    expect(read.statusCode).toBe(200);
    expect(await stockOf(t, product.id)).toBe(4);
  });

  it('inventory: only delta or quantity, never both, never another field', async () => {
    const product = await createProduct(t, { stock: 4 });
    for (const payload of [{ delta: 1, quantity: 100 }, { delta: 1, stock: 100 }, { quantity: 1, price: '0.01' }]) {
      const before = await snapshot(t);
      const res = await t.app.inject({ method: 'POST', url: `/api/catalog/products/${product.id}/inventory/`, headers: as(staff), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(await snapshot(t)).toEqual(before);
    }
  });
});

describe('object level: each customer reads only their own', () => {
  it('profile, order history and cart are the caller’s', async () => {
    const product = await createProduct(t, { stock: 10 });
    await t.app.inject({ method: 'PUT', url: `/api/cart/items/${product.id}/`, headers: as(a), payload: { quantity: 1 } });
    const order = (await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: as(a), payload: { order_items: [{ product: product.id, quantity: 1 }] } })).json();
    expect((await t.app.inject({ url: '/api/identity/me/', headers: as(b) })).json().id).toBe(b.id);
    const history = (await t.app.inject({ url: '/api/orders/orders/?limit=100', headers: as(b) })).json();
    expect(history.results.every((o: { customer: string }) => o.customer === b.id)).toBe(true);
    expect(history.results.map((o: { id: string }) => o.id)).not.toContain(order.id);
    const cart = (await t.app.inject({ url: '/api/cart/', headers: as(b) })).json();
    expect(cart.items.map((i: { product: string }) => i.product)).not.toContain(product.id);
    // An id that exists but is someone else's answers exactly like one that does not.
    const theirs = await t.app.inject({ url: `/api/orders/orders/${order.id}/`, headers: as(b) });
    const missing = await t.app.inject({ url: `/api/orders/orders/${FORGED_ID}/`, headers: as(b) });
    expect([theirs.statusCode, theirs.json().code, theirs.json().detail]).toEqual([missing.statusCode, missing.json().code, missing.json().detail]);
  });
});
