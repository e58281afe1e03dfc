/**
 * Invariants 1, 2 and 5 under real concurrency: only evidence on real PostgreSQL (PGlite runs one
 * statement at a time), so these run only there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sql } from '../../src/platform/db.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { onRealPostgres } from '../helpers/test-env.ts';

describe.runIf(onRealPostgres)('orders under concurrency (real PostgreSQL)', () => {
  let t: TestApp;
  let buyers: TestUser[];

  beforeAll(async () => {
    t = await buildTestApp();
    buyers = [];
    for (let i = 0; i < 40; i += 10) buyers.push(...(await Promise.all(Array.from({ length: 10 }, () => createUser(t)))));
  });
  afterAll(() => t.close());

  const place = (user: TestUser, items: Array<{ product: string; quantity: number }>, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...user.auth, ...headers }, payload: { order_items: items } });

  async function ordersOf(productId: string): Promise<number> {
    const [row] = await queryRows<{ units: number }>(
      t.services.db.primary,
      sql`select coalesce(sum(l.quantity), 0)::int as units from orders.order_lines l join orders.orders o on o.id = l.order_id
          where l.product_id = ${productId} and o.status = 'confirmed'`,
    );
    return row!.units;
  }

  it('40 buyers of a product with 10 units: exactly 10 orders, 30 refusals, stock 0', async () => {
    const p = await createProduct(t, { stock: 10 });
    const answers = await Promise.all(buyers.map((b) => place(b, [{ product: p.id, quantity: 1 }])));
    const statuses = answers.map((a) => a.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(30);
    for (const a of answers.filter((x) => x.statusCode === 409)) {
      expect(a.json()).toMatchObject({ code: 'insufficient_stock', items: [{ product: p.id, requested: 1, available: 0 }] });
    }
    expect(await stockOf(t, p.id)).toBe(0);
    expect(await ordersOf(p.id)).toBe(10);
  });

  it('40 two-line orders over two products in opposite line order: no deadlock, no 5xx, no oversell', async () => {
    const a = await createProduct(t, { stock: 25 });
    const b = await createProduct(t, { stock: 25 });
    const answers = await Promise.all(
      buyers.map((buyer, i) =>
        place(buyer, i % 2 === 0 ? [{ product: a.id, quantity: 1 }, { product: b.id, quantity: 1 }] : [{ product: b.id, quantity: 1 }, { product: a.id, quantity: 1 }]),
      ),
    );
    const statuses = answers.map((x) => x.statusCode);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201)).toHaveLength(25);
    expect(await stockOf(t, a.id)).toBe(0);
    expect(await stockOf(t, b.id)).toBe(0);
    expect(await ordersOf(a.id)).toBe(25);
    expect(await ordersOf(b.id)).toBe(25);
  });

  it('10 concurrent requests with one key: one order, stock taken once, the rest 409 in progress or a replay', async () => {
    const p = await createProduct(t, { stock: 100 });
    const buyer = buyers[0]!;
    const answers = await Promise.all(Array.from({ length: 10 }, () => place(buyer, [{ product: p.id, quantity: 3 }], { 'idempotency-key': 'race-key-1' })));
    const created = answers.filter((x) => x.statusCode === 201 && x.headers['idempotent-replayed'] === undefined);
    expect(created).toHaveLength(1);
    for (const x of answers) {
      if (x === created[0]) continue;
      if (x.statusCode === 201) {
        expect(x.headers['idempotent-replayed']).toBe('true');
        expect(x.json()).toEqual(created[0]!.json());
      } else {
        expect(x.statusCode).toBe(409);
        expect(x.json().code).toBe('idempotency_key_in_progress');
      }
    }
    expect(await stockOf(t, p.id)).toBe(97);
    expect(await ordersOf(p.id)).toBe(3);
    const replay = await place(buyer, [{ product: p.id, quantity: 3 }], { 'idempotency-key': 'race-key-1' });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().id).toBe(created[0]!.json().id);
  });

  it('concurrent cancels of one order restock it once', async () => {
    const p = await createProduct(t, { stock: 10 });
    const buyer = buyers[1]!;
    const id = (await place(buyer, [{ product: p.id, quantity: 4 }])).json().id;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => t.app.inject({ method: 'POST', url: `/api/orders/orders/${id}/cancel/`, headers: buyer.auth })),
    );
    expect(answers.filter((x) => x.statusCode === 200)).toHaveLength(1);
    expect(answers.filter((x) => x.statusCode === 409)).toHaveLength(9);
    expect(await stockOf(t, p.id)).toBe(10);
  });
});
