/**
 * A line added to a cart while the cart checks out (issue 22, defect 4), on two app instances over
 * one PostgreSQL and Redis: the checkout orders what it read and takes only those units off the
 * cart, so the added line ends in the order or stays in the cart with its hold, never vanishes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { onRealPostgres, testRedisUrl } from '../helpers/test-env.ts';
import { buildPeerApp, buildTestApp, type TestApp } from '../helpers/test-app.ts';

const ROUNDS = 12;

describe.runIf(onRealPostgres && testRedisUrl)('a cart line added while the cart checks out', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await buildTestApp();
    b = await buildPeerApp(a);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it(`ends in the order or stays in the cart with its hold (${ROUNDS} rounds, checkout on one instance, PUT on the other)`, async () => {
    const first = await createProduct(a, { stock: 100 });
    const added = await createProduct(a, { stock: 100 });
    const lost: number[] = [];
    let orderedAdded = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const buyer = await createUser(a);
      const put = (t: TestApp, productId: string) =>
        t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: buyer.auth, payload: { quantity: 1 } });
      expect((await put(a, first.id)).statusCode).toBe(200);
      const [checkout, adding] = await Promise.all([
        a.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: buyer.auth }),
        put(b, added.id),
      ]);
      expect(checkout.statusCode).toBe(201);
      expect(adding.statusCode).toBe(200);
      const ordered = (checkout.json().order_items as Array<{ product: string; quantity: number }>).some((i) => i.product === added.id);
      const cart = (await b.app.inject({ method: 'GET', url: '/api/cart/', headers: buyer.auth })).json();
      const inCart = (cart.items as Array<{ product: string; quantity: number }>).some((i) => i.product === added.id && i.quantity === 1);
      expect(cart.items.some((i: { product: string }) => i.product === first.id)).toBe(false);
      if (!ordered && !inCart) lost.push(round);
      if (ordered) orderedAdded++;
      if (inCart) await a.app.inject({ method: 'DELETE', url: '/api/cart/', headers: buyer.auth });
    }
    expect(lost).toEqual([]);
    // Every unit is accounted for: stock taken by the orders, nothing left held once the carts are cleared.
    expect(await stockOf(a, first.id)).toBe(100 - ROUNDS);
    expect(await stockOf(a, added.id)).toBe(100 - orderedAdded);
    const viewer = await createUser(a);
    const page = await a.app.inject({ method: 'GET', url: `/api/catalog/products/${added.id}/`, headers: viewer.auth });
    expect(page.json().quantity).toBe(100 - orderedAdded);
  });
});
