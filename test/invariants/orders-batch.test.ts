/**
 * The batching writer under real concurrency, through TWO app instances on one PostgreSQL
 * database (each with its own writer, pools and in-process state; Redis shared when configured):
 * what several API processes look like. Only evidence on real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sql } from '../../src/platform/db.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { buildPeerApp, buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { onRealPostgres } from '../helpers/test-env.ts';

describe.runIf(onRealPostgres)('batched orders through two app instances (real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp;
  let buyers: TestUser[];

  beforeAll(async () => {
    // Both instances share this process's two cores with 2,000 requests at once: the queue deadline
    // (tested in batch-writer.test.ts) is raised so this test measures correctness, not CPU.
    // One order below asks for 29 units of a product: above the default per-product cap of 20.
    const env = { ORDERS_QUEUE_TIMEOUT_MS: '60000', CART_MAX_UNITS_PER_LINE: '30' };
    a = await buildTestApp({ env });
    b = await buildPeerApp(a, { env });
    buyers = await Promise.all(Array.from({ length: 20 }, () => createUser(a)));
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const place = (t: TestApp, user: TestUser, items: Array<{ product: string; quantity: number }>, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...user.auth, ...headers }, payload: { order_items: items } });

  async function confirmedUnits(productId: string): Promise<number> {
    const [row] = await queryRows<{ units: number }>(
      a.services.db.primary,
      sql`select coalesce(sum(l.quantity), 0)::int as units from orders.order_lines l join orders.orders o on o.id = l.order_id
          where l.product_id = ${productId} and o.status = 'confirmed'`,
    );
    return row!.units;
  }

  /** Orders per transaction: a batch's orders share its created_at. */
  async function largestBatch(productId: string): Promise<number> {
    const [row] = await queryRows<{ n: number }>(
      a.services.db.primary,
      sql`select coalesce(max(n), 0)::int as n from (select count(*) as n from orders.orders o join orders.order_lines l on l.order_id = o.id
          where l.product_id = ${productId} group by o.created_at) g`,
    );
    return row!.n;
  }

  it('2,000 concurrent one-unit orders for 500 units: exactly 500 × 201, 1,500 × 409, stock 0', async () => {
    const p = await createProduct(a, { stock: 500 });
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => place(i % 2 ? b : a, buyers[i % buyers.length]!, [{ product: p.id, quantity: 1 }])));
    const tally: Record<string, number> = {};
    for (const x of answers) {
      const outcome = x.statusCode === 201 ? '201' : `${x.statusCode} ${x.json().code}`;
      tally[outcome] = (tally[outcome] ?? 0) + 1;
    }
    expect(tally).toEqual({ '201': 500, '409 insufficient_stock': 1500 });
    expect(await stockOf(a, p.id)).toBe(0);
    expect(await confirmedUnits(p.id)).toBe(500);
    expect(await largestBatch(p.id)).toBeGreaterThan(1);
  }, 120_000);

  it('without a shared hold store, 1,000 orders for 200 units through both instances: the writers decide, 200 × 201', async () => {
    // Each instance holds in its own memory here, so both let orders through to their writers
    // and the locked rows alone keep the count (invariant 1 across processes).
    const env = { ORDERS_QUEUE_TIMEOUT_MS: '60000' };
    const solo = await buildTestApp({ redis: false, env });
    const peer = await buildPeerApp(solo, { env });
    try {
      const buyer = await createUser(solo);
      const p = await createProduct(solo, { stock: 200 });
      const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => place(i % 2 ? peer : solo, buyer, [{ product: p.id, quantity: 1 }])));
      const statuses = answers.map((x) => x.statusCode);
      expect(statuses.filter((s) => s === 201)).toHaveLength(200);
      expect(statuses.filter((s) => s === 409)).toHaveLength(800);
      expect(await stockOf(solo, p.id)).toBe(0);
    } finally {
      await peer.close();
      await solo.close();
    }
  }, 120_000);

  it('crossing two-line orders from both instances: no deadlock, no 5xx, no oversell', async () => {
    const x = await createProduct(a, { stock: 150 });
    const y = await createProduct(a, { stock: 150 });
    const lines = (i: number) => (i % 2 ? [{ product: x.id, quantity: 1 }, { product: y.id, quantity: 1 }] : [{ product: y.id, quantity: 1 }, { product: x.id, quantity: 1 }]);
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => place(i % 3 ? a : b, buyers[i % buyers.length]!, lines(i))));
    const statuses = answers.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201)).toHaveLength(150);
    expect([await stockOf(a, x.id), await stockOf(a, y.id)]).toEqual([0, 0]);
    expect([await confirmedUnits(x.id), await confirmedUnits(y.id)]).toEqual([150, 150]);
  }, 60_000);

  it('one key sent twice at once to one instance, and to both: one order each, the other answer a replay', async () => {
    const p = await createProduct(a, { stock: 100 });
    for (const [first, second] of [
      [a, a],
      [a, b],
    ] as const) {
      const buyer = buyers[0]!;
      const key = { 'idempotency-key': `twice-${Math.random()}` };
      const answers = await Promise.all([place(first, buyer, [{ product: p.id, quantity: 2 }], key), place(second, buyer, [{ product: p.id, quantity: 2 }], key)]);
      expect(answers.map((r) => r.statusCode)).toEqual([201, 201]);
      expect(answers.map((r) => r.headers['idempotent-replayed']).sort()).toEqual(['true', undefined]);
      expect(answers[0]!.json()).toEqual(answers[1]!.json());
    }
    expect(await stockOf(a, p.id)).toBe(96);
    expect(await confirmedUnits(p.id)).toBe(4);
  });

  it('a batch with one short order among many: the others are written', async () => {
    const p = await createProduct(a, { stock: 30 });
    const sizes = Array.from({ length: 30 }, (_, i) => (i === 7 ? 29 : 1));
    const answers = await Promise.all(sizes.map((q, i) => place(a, buyers[i % buyers.length]!, [{ product: p.id, quantity: q }])));
    // 29 one-unit orders fit whatever the order; the 29-unit one cannot fit beside them all.
    const ones = answers.filter((_, i) => i !== 7).map((r) => r.statusCode);
    expect(ones.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(answers[7]!.statusCode === 409 ? ones.every((s) => s === 201) : ones.filter((s) => s === 201).length === 1).toBe(true);
    expect(await stockOf(a, p.id)).toBe(answers[7]!.statusCode === 409 ? 1 : 0);
  });
});
