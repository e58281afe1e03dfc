/**
 * Invariant 3 under real concurrency (PostgreSQL + Redis): live holds are honoured by carts and by
 * direct orders alike, and checkout gets what its cart holds while others race for the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { onRealPostgres, testRedisUrl } from '../helpers/test-env.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

describe.runIf(onRealPostgres && testRedisUrl)('cart holds under concurrency', () => {
  let t: TestApp;
  let users: TestUser[];

  beforeAll(async () => {
    t = await buildTestApp();
    users = [];
    for (let i = 0; i < 5; i++) users.push(...(await Promise.all(Array.from({ length: 10 }, () => createUser(t)))));
  });
  afterAll(() => t.close());

  const put = (user: TestUser, productId: string, quantity: number) =>
    t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: user.auth, payload: { quantity } });
  const order = (user: TestUser, productId: string, quantity: number) =>
    t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: user.auth, payload: { order_items: [{ product: productId, quantity }] } });
  const clearAll = () => Promise.all(users.map((u) => t.app.inject({ method: 'DELETE', url: '/api/cart/', headers: u.auth })));

  it('50 carts racing for 10 units: exactly 10 held', async () => {
    const p = await createProduct(t, { stock: 10 });
    const results = await Promise.all(users.map((u) => put(u, p.id, 1)));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(10);
    expect(results.filter((r) => r.statusCode === 409)).toHaveLength(40);
    expect(await quantity(p.id)).toBe(0);
    await clearAll();
  });

  async function quantity(productId: string): Promise<number> {
    return (await t.app.inject({ method: 'GET', url: `/api/catalog/products/${productId}/`, headers: users[0]!.auth })).json().quantity;
  }

  it('the same cart checked out twice at once, without a key, makes one order', async () => {
    const p = await createProduct(t, { stock: 10 });
    const buyer = users[0]!;
    expect((await put(buyer, p.id, 3)).statusCode).toBe(200);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: buyer.auth })),
    );
    expect(results.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 409)).toHaveLength(4);
    expect(await stockOf(t, p.id)).toBe(7);
    const history = await t.app.inject({ method: 'GET', url: '/api/orders/orders/', headers: buyer.auth });
    expect(history.json().results.filter((o: { order_items: Array<{ product: string }> }) => o.order_items[0]?.product === p.id)).toHaveLength(1);
  });

  it('direct orders racing for held units all get 409 and take nothing', async () => {
    const p = await createProduct(t, { stock: 5 });
    expect((await put(users[0]!, p.id, 5)).statusCode).toBe(200);
    const results = await Promise.all(users.slice(1, 21).map((u) => order(u, p.id, 1)));
    expect(results.every((r) => r.statusCode === 409)).toBe(true);
    expect(await stockOf(t, p.id)).toBe(5);
    await clearAll();
  });

  it('checkout gets the held units while others race for the rest; nothing is oversold', async () => {
    const p = await createProduct(t, { stock: 10 });
    const [buyer, ...others] = users;
    expect((await put(buyer!, p.id, 4)).statusCode).toBe(200);
    const [checkout, ...rest] = await Promise.all([
      t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: buyer!.auth }),
      ...others.slice(0, 20).map((u) => order(u, p.id, 1)),
      ...others.slice(20, 40).map((u) => put(u, p.id, 1)),
    ]);
    expect(checkout!.statusCode).toBe(201);
    expect(checkout!.json().order_items[0].quantity).toBe(4);
    const ordered = rest.slice(0, 20).filter((r) => r.statusCode === 201).length;
    const held = rest.slice(20).filter((r) => r.statusCode === 200).length;
    expect(ordered + held).toBeLessThanOrEqual(6);
    expect(await stockOf(t, p.id)).toBe(10 - 4 - ordered);
    expect(await quantity(p.id)).toBe(10 - 4 - ordered - held);
    await clearAll();
  });
});
