/** The cart over HTTP, on whichever hold store the run has (in-process, or Redis with TEST_REDIS_URL). */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct, setPrice, stockOf } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  t = await buildTestApp({ env: { CART_MAX_UNITS_PER_LINE: '20', CART_MAX_UNITS: '30' } });
  [alice, bob] = await Promise.all([createUser(t), createUser(t)]);
});
afterAll(() => t.close());

const put = (user: TestUser, productId: string, quantity: number) =>
  t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: user.auth, payload: { quantity } });
const cart = (user: TestUser) => t.app.inject({ method: 'GET', url: '/api/cart/', headers: user.auth });
const clear = (user: TestUser) => t.app.inject({ method: 'DELETE', url: '/api/cart/', headers: user.auth });
const checkout = (user: TestUser, key?: string) =>
  t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: { ...user.auth, ...(key ? { 'idempotency-key': key } : {}) } });
const quantityOf = async (user: TestUser, productId: string) =>
  (await t.app.inject({ method: 'GET', url: `/api/catalog/products/${productId}/`, headers: user.auth })).json().quantity;

describe('cart', () => {
  it('starts empty and needs a signed-in customer', async () => {
    await clear(alice);
    expect((await cart(alice)).json()).toEqual({ items: [], total: '0.00', expires_at: null });
    expect((await t.app.inject({ method: 'GET', url: '/api/cart/' })).statusCode).toBe(401);
  });

  it('holds the units it puts: others see fewer and cannot hold or order them', async () => {
    const p = await createProduct(t, { stock: 10, priceCents: 1250, name: 'Teapot' });
    const res = await put(alice, p.id, 7);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.items).toEqual([{ product: p.id, name: 'Teapot', price: '12.50', quantity: 7, line_total: '87.50' }]);
    expect(body.total).toBe('87.50');
    const ttlMs = Date.parse(body.expires_at) - Date.now();
    expect(ttlMs).toBeGreaterThan(1700 * 1000);
    expect(ttlMs).toBeLessThanOrEqual(1800 * 1000);

    expect(await quantityOf(bob, p.id)).toBe(3);
    const refused = await put(bob, p.id, 4);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'insufficient_stock', items: [{ product: p.id, requested: 4, available: 3 }] });
    expect((await cart(bob)).json().items).toEqual([]);

    const order = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: bob.auth, payload: { order_items: [{ product: p.id, quantity: 4 }] } });
    expect(order.statusCode).toBe(409);
    expect(order.json().code).toBe('insufficient_stock');
    expect(await stockOf(t, p.id)).toBe(10);
    // What is not held can still be ordered directly.
    const small = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: bob.auth, payload: { order_items: [{ product: p.id, quantity: 3 }] } });
    expect(small.statusCode).toBe(201);
    await clear(alice);
    expect(await quantityOf(bob, p.id)).toBe(7);
  });

  it('a refused change leaves the cart as it was', async () => {
    const [p, q] = await Promise.all([createProduct(t, { stock: 5 }), createProduct(t, { stock: 5 })]);
    await put(alice, p.id, 2);
    const before = (await cart(alice)).json();
    expect((await put(alice, p.id, 6)).statusCode).toBe(409);
    expect((await put(alice, q.id, 9)).statusCode).toBe(409);
    expect((await cart(alice)).json().items).toEqual(before.items);
    await clear(alice);
  });

  it('sets, removes with 0 and with DELETE, and clears releasing every hold', async () => {
    const [p, q] = await Promise.all([createProduct(t, { stock: 5 }), createProduct(t, { stock: 5 })]);
    await put(alice, p.id, 2);
    await put(alice, q.id, 3);
    expect((await put(alice, p.id, 1)).json().items.map((i: { quantity: number }) => i.quantity).sort()).toEqual([1, 3]);
    expect((await put(alice, p.id, 0)).json().items.map((i: { product: string }) => i.product)).toEqual([q.id]);
    const removed = await t.app.inject({ method: 'DELETE', url: `/api/cart/items/${q.id}/`, headers: alice.auth });
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toEqual({ items: [], total: '0.00', expires_at: null });
    await put(alice, p.id, 5);
    expect(await quantityOf(bob, p.id)).toBe(0);
    const cleared = await clear(alice);
    expect(cleared.statusCode).toBe(204);
    expect(await quantityOf(bob, p.id)).toBe(5);
  });

  it('refuses unknown, archived and malformed products and quantities', async () => {
    const archived = await createProduct(t, { stock: 5, archived: true });
    expect((await put(alice, archived.id, 1)).json().code).toBe('unknown_product');
    expect((await put(alice, '0190c0de-0000-7000-8000-000000000000', 1)).statusCode).toBe(422);
    expect((await put(alice, 'not-a-uuid', 1)).statusCode).toBe(400);
    const p = await createProduct(t, { stock: 5 });
    expect((await put(alice, p.id, -1)).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'PUT', url: `/api/cart/items/${p.id}/`, headers: alice.auth, payload: { quantity: 'x' } })).statusCode).toBe(400);
  });

  it('caps what one customer can hold, per line and per cart', async () => {
    const [p, q] = await Promise.all([createProduct(t, { stock: 100 }), createProduct(t, { stock: 100 })]);
    const line = await put(alice, p.id, 21);
    expect(line.statusCode).toBe(409);
    expect(line.json()).toMatchObject({ code: 'conflict', max_units_per_line: 20 });
    expect(line.json().detail).toContain('20');
    expect((await put(alice, p.id, 20)).statusCode).toBe(200);
    const total = await put(alice, q.id, 11);
    expect(total.json()).toMatchObject({ code: 'conflict', max_units_per_cart: 30 });
    expect((await put(alice, q.id, 10)).statusCode).toBe(200);
    await clear(alice);
  });

  it('reads current prices, and checks out at them: 201 order, cart emptied, stock taken', async () => {
    const p = await createProduct(t, { stock: 10, priceCents: 500 });
    await put(alice, p.id, 4);
    await setPrice(t, p.id, 650);
    expect((await cart(alice)).json()).toMatchObject({ items: [{ price: '6.50', line_total: '26.00' }], total: '26.00' });
    const res = await checkout(alice);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ customer: alice.id, status: 'confirmed', total: '26.00', order_items: [{ product: p.id, quantity: 4 }] });
    expect((await cart(alice)).json().items).toEqual([]);
    expect(await stockOf(t, p.id)).toBe(6);
    expect(await quantityOf(bob, p.id)).toBe(6);
  });

  it('refuses to check out an empty cart', async () => {
    await clear(alice);
    const res = await checkout(alice);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('conflict');
  });

  it('replays a checkout with the same Idempotency-Key and creates one order', async () => {
    const p = await createProduct(t, { stock: 10 });
    await put(alice, p.id, 2);
    const first = await checkout(alice, 'checkout-key-1');
    expect(first.statusCode).toBe(201);
    const again = await checkout(alice, 'checkout-key-1');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(await stockOf(t, p.id)).toBe(8);
  });
});

describe('the hot path', () => {
  it('a PUT reads no database once the stock mirror and the product facts are warm', async () => {
    const [buyer, p, q] = [await createUser(t), await createProduct(t, { stock: 50, name: 'Warm' }), await createProduct(t, { stock: 50 })];
    expect((await put(buyer, p.id, 1)).statusCode).toBe(200);
    expect((await put(buyer, q.id, 1)).statusCode).toBe(200);
    const primary = t.services.db.primary;
    const select = vi.spyOn(primary, 'select');
    const execute = vi.spyOn(primary, 'execute');
    try {
      for (const quantity of [2, 3, 1]) {
        const res = await put(buyer, p.id, quantity);
        expect(res.statusCode).toBe(200);
        expect(res.json().items).toEqual(expect.arrayContaining([expect.objectContaining({ product: p.id, name: 'Warm', quantity })]));
      }
      expect(select.mock.calls.length + execute.mock.calls.length).toBe(0);
    } finally {
      select.mockRestore();
      execute.mockRestore();
    }
  });
});
