/**
 * The batching writer called directly (no HTTP, no holds), on the test database: embedded PGlite
 * by default, real PostgreSQL when configured. Requests placed in one turn of the event loop form
 * one batch (one transaction: they share its `created_at`), which is what these tests rely on.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import { createProduct, stockOf } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { createOrderWriter, partitionOf, type OrderWriter, type WriteOutcome, type WriteRequest } from './batch-writer.ts';

let t: TestApp;
let writer: OrderWriter;
const committed: string[][] = [];

beforeAll(async () => {
  t = await buildTestApp();
  writer = newWriter();
});
afterAll(async () => {
  await writer.close();
  await t.close();
});

function newWriter(queueTimeoutMs = 5000) {
  return createOrderWriter({
    primary: t.services.db.primary,
    stock: t.services.inventory,
    logger: t.services.logger,
    retentionSeconds: 86_400,
    maxBatch: 50,
    queueTimeoutMs,
    afterCommit: async (ids) => void committed.push(ids),
  });
}

const customer = newId();
const one = (productId: string, quantity = 1, extra: Partial<WriteRequest> = {}): WriteRequest => ({
  customerId: customer,
  lines: [{ productId, quantity }],
  ...extra,
});
const placeAll = (reqs: WriteRequest[], w = writer) => Promise.all(reqs.map((r) => w.place(r)));

function written(outcome: WriteOutcome | undefined) {
  if (outcome?.kind !== 'written') throw new Error(`expected written, got ${JSON.stringify(outcome)}`);
  return outcome;
}
const codeOf = (outcome: WriteOutcome | undefined) => (outcome?.kind === 'refused' ? outcome.error.code : outcome?.kind);

async function countWhere(query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows<{ n: number }>(t.services.db.primary, query);
  return row!.n;
}

describe('one batch', () => {
  it('decides in arrival order: the short order is refused alone, the others are written in one transaction', async () => {
    const p = await createProduct(t, { stock: 3, priceCents: 250, name: 'Pears' });
    const [a, b, c, d] = await placeAll([one(p.id, 1), one(p.id, 5), one(p.id, 2), one(p.id, 1)]);
    expect(written(a).body).toMatchObject({ status: 'confirmed', total: '2.50', order_items: [{ name: 'Pears', price: '2.50', quantity: 1 }] });
    expect(b).toMatchObject({ kind: 'refused', error: { code: 'insufficient_stock', extra: { items: [{ product: p.id, requested: 5, available: 2 }] } } });
    expect(written(c).order.createdAt).toEqual(written(a).order.createdAt);
    expect(codeOf(d)).toBe('insufficient_stock');
    expect(await stockOf(t, p.id)).toBe(0);
    // The mirror each written order reports is what the batch's single update left.
    expect(written(c).stock).toEqual([{ productId: p.id, stock: 0, version: expect.any(Number) }]);
    expect(committed.at(-1)).toEqual([p.id]);
  });

  it('refuses an unknown or archived product with 422 while the rest of the batch is written', async () => {
    const p = await createProduct(t, { stock: 5 });
    const gone = await createProduct(t, { stock: 5, archived: true });
    const [a, b, c] = await placeAll([one(p.id), { customerId: customer, lines: [{ productId: p.id, quantity: 1 }, { productId: gone.id, quantity: 1 }] }, one(newId())]);
    expect(a?.kind).toBe('written');
    expect(b).toMatchObject({ kind: 'refused', error: { code: 'unknown_product', extra: { products: [gone.id] } } });
    expect(codeOf(c)).toBe('unknown_product');
    expect(await stockOf(t, p.id)).toBe(4);
  });

  it('takes multi-line orders all or nothing against what the orders before them left', async () => {
    const x = await createProduct(t, { stock: 2 });
    const y = await createProduct(t, { stock: 1 });
    const both = { customerId: customer, lines: [{ productId: x.id, quantity: 1 }, { productId: y.id, quantity: 1 }] };
    const [first, second, onlyX] = await placeAll([both, both, one(x.id)]);
    expect(first?.kind).toBe('written');
    expect(second).toMatchObject({ kind: 'refused', error: { extra: { items: [{ product: y.id, requested: 1, available: 0 }] } } });
    expect(onlyX?.kind).toBe('written');
    expect([await stockOf(t, x.id), await stockOf(t, y.id)]).toEqual([0, 0]);
  });
});

describe('idempotency inside the batch', () => {
  it('two requests with one key in one batch: one order, the second a replay of the first', async () => {
    const p = await createProduct(t, { stock: 10 });
    const idempotency = { key: `k-${newId()}`, hash: 'h1' };
    const [a, b, c] = await placeAll([one(p.id, 2, { idempotency }), one(p.id, 2, { idempotency }), one(p.id, 2, { idempotency: { ...idempotency, hash: 'other' } })]);
    const first = written(a);
    expect(b).toEqual({ kind: 'replayed', status: 201, body: first.body });
    expect(codeOf(c)).toBe('idempotency_key_reused');
    expect(await stockOf(t, p.id)).toBe(8);
    // A later batch replays the stored answer.
    expect(await writer.place(one(p.id, 2, { idempotency }))).toEqual({ kind: 'replayed', status: 201, body: first.body });
    expect(await stockOf(t, p.id)).toBe(8);
  });

  it('a refused request keeps no key: the same key runs again once stock is back', async () => {
    const p = await createProduct(t, { stock: 1 });
    const idempotency = { key: `k-${newId()}`, hash: 'h' };
    expect(codeOf(await writer.place(one(p.id, 3, { idempotency })))).toBe('insufficient_stock');
    expect(await countWhere(sql`select count(*)::int as n from orders.idempotency_keys where key = ${idempotency.key}`)).toBe(0);
    await t.services.catalog.changeInventory(p.id, { quantity: 5 }); // staff sets the stock back
    expect((await writer.place(one(p.id, 3, { idempotency }))).kind).toBe('written');
  });

  it('a key another request is still running under answers 409 in progress; its own claim goes through', async () => {
    const p = await createProduct(t, { stock: 5 });
    const key = `k-${newId()}`;
    const token = newId();
    await t.services.db.primary.execute(
      sql`insert into orders.idempotency_keys (customer_id, key, request_hash, status, lease_token, expires_at)
          values (${customer}, ${key}, 'h', 'in_progress', ${token}, now() + interval '1 minute')`,
    );
    expect(codeOf(await writer.place(one(p.id, 1, { idempotency: { key, hash: 'h' } })))).toBe('idempotency_key_in_progress');
    const own = written(await writer.place(one(p.id, 1, { idempotency: { key, hash: 'h', leaseToken: token } })));
    expect(await writer.place(one(p.id, 1, { idempotency: { key, hash: 'h' } }))).toEqual({ kind: 'replayed', status: 201, body: own.body });
    expect(await stockOf(t, p.id)).toBe(4);
  });
});

describe('caller-fixed order ids and flash-sale recording', () => {
  it('an order id that exists already takes no stock and reports that order', async () => {
    const p = await createProduct(t, { stock: 5 });
    const orderId = newId();
    const first = written(await writer.place(one(p.id, 2, { orderId })));
    expect(first.order.id).toBe(orderId);
    const [again, twin] = await placeAll([one(p.id, 2, { orderId }), one(p.id, 2, { orderId })]);
    expect(again).toEqual({ kind: 'existing', order: first.order, body: first.body });
    expect(twin?.kind).toBe('existing');
    expect(await stockOf(t, p.id)).toBe(3);
  });

  it('onShort record_cancelled writes a short order as cancelled (out_of_stock), taking nothing', async () => {
    const p = await createProduct(t, { stock: 1, priceCents: 700 });
    const [ok, short] = await placeAll([one(p.id, 1, { onShort: 'record_cancelled' }), one(p.id, 1, { onShort: 'record_cancelled' })]);
    expect(written(ok).body.status).toBe('confirmed');
    const cancelled = written(short);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancel_reason: 'out_of_stock', total: '7.00' });
    expect(cancelled.stock).toEqual([]);
    expect(await stockOf(t, p.id)).toBe(0);
    const topics = await queryRows<{ topic: string }>(t.services.db.primary, sql`select topic from orders.outbox where payload->>'order_id' = ${cancelled.order.id}`);
    expect(topics).toEqual([{ topic: 'order.cancelled' }]);
  });
});

describe('failures', () => {
  /** `primary` with some methods replaced (the real pool's are read-only: a Proxy may not swap them). */
  function withOverrides(primary: Db, overrides: Partial<Record<'transaction' | 'execute', unknown>>): Db {
    const db = Object.create(primary) as Db;
    for (const [name, value] of Object.entries(overrides)) Object.defineProperty(db, name, { value });
    return db;
  }

  /** A primary whose COMMITs land but whose replies are lost: every transaction commits, then throws. */
  const losingReplies = (primary: Db, lost: { n: number }) =>
    withOverrides(primary, {
      transaction: async (...args: Parameters<Db['transaction']>) => {
        await primary.transaction(...args);
        lost.n++;
        throw new Error('Connection terminated unexpectedly');
      },
    });

  it('every attempt committed but its reply was lost: one read finds the order, reported written once', async () => {
    const p = await createProduct(t, { stock: 5 });
    const lost = { n: 0 };
    const w = createOrderWriter({ primary: losingReplies(t.services.db.primary, lost), stock: t.services.inventory, logger: t.services.logger, retentionSeconds: 86_400, maxBatch: 50, queueTimeoutMs: 5000 });
    const key = crypto.randomUUID();
    const outcome = written(await w.place(one(p.id, 2, { idempotency: { key, hash: 'h' } })));
    expect(lost.n).toBe(3);
    expect(await countWhere(sql`select count(*)::int as n from orders.orders where id = ${outcome.order.id}`)).toBe(1);
    expect(await stockOf(t, p.id)).toBe(3);
    // Told 201 once: the key replays the same order.
    expect(await writer.place(one(p.id, 2, { idempotency: { key, hash: 'h' } }))).toEqual({ kind: 'replayed', status: 201, body: outcome.body });
    await w.close();
  });

  it('the primary gone after the last attempt: 503 that says the outcome is not known yet', async () => {
    const p = await createProduct(t, { stock: 5 });
    const down = () => Promise.reject(new Error('Connection terminated unexpectedly'));
    const gone = withOverrides(t.services.db.primary, { transaction: down, execute: down });
    const w = createOrderWriter({ primary: gone, stock: t.services.inventory, logger: t.services.logger, retentionSeconds: 86_400, maxBatch: 50, queueTimeoutMs: 5000 });
    const outcome = await w.place(one(p.id));
    expect(outcome).toMatchObject({ kind: 'refused', error: { code: 'unavailable', headers: { 'retry-after': '1' } } });
    expect(outcome.kind === 'refused' && outcome.error.message).toMatch(/cannot be known yet/);
    expect(await stockOf(t, p.id)).toBe(5);
    await w.close();
  });

  it('a request that fails on its own is split off: its batch neighbours are written', async () => {
    const p = await createProduct(t, { stock: 5 });
    // Not a UUID: the lock statement itself fails (a request no edge schema would let through).
    const [a, bad, c] = await placeAll([one(p.id), one('not-a-uuid'), one(p.id)]);
    expect([a?.kind, codeOf(bad), c?.kind]).toEqual(['written', 'internal_error', 'written']);
    expect(await stockOf(t, p.id)).toBe(3);
  });

  it('a request queued past the deadline gets 503 with Retry-After and is never written', async () => {
    const p = await createProduct(t, { stock: 5 });
    const slow = newWriter(50);
    // Another transaction holds the row: the first batch waits for it, the next request waits in the queue.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const locker = t.services.db.primary.transaction(async (tx) => {
      await tx.execute(sql`select id from catalog.products where id = ${p.id} for update`);
      await held;
    });
    await new Promise((r) => setTimeout(r, 50));
    const inFlight = slow.place(one(p.id));
    await new Promise((r) => setTimeout(r, 20));
    const queued = await slow.place(one(p.id));
    expect(queued).toMatchObject({ kind: 'refused', error: { code: 'unavailable', headers: { 'retry-after': '1' } } });
    release();
    await locker;
    expect((await inFlight).kind).toBe('written');
    expect(await stockOf(t, p.id)).toBe(4);
    await slow.close();
    expect(codeOf(await slow.place(one(p.id)))).toBe('unavailable');
  });
});

describe('partitioned writers', () => {
  const PARTITIONS = 4;
  const partitioned = (logger = t.services.logger) =>
    createOrderWriter({ primary: t.services.db.primary, stock: t.services.inventory, logger, retentionSeconds: 86_400, maxBatch: 50, queueTimeoutMs: 30_000, partitions: PARTITIONS });

  /** Products until every partition has `each` of them, sorted by id. */
  async function productsPerPartition(each: number, stock: number) {
    const by = Array.from({ length: PARTITIONS }, () => [] as string[]);
    while (by.some((ids) => ids.length < each)) {
      const p = await createProduct(t, { stock });
      const ids = by[partitionOf([p.id], PARTITIONS)]!;
      if (ids.length < each) ids.push(p.id);
    }
    return by;
  }

  it('an order spanning two partitions is written by one writer, in the batch of its smallest product id', async () => {
    const by = await productsPerPartition(1, 10);
    const [low, high] = [by[0]![0]!, by[1]![0]!].sort() as [string, string];
    const w = partitioned();
    const outcomes = await placeAll([one(low), one(high), { customerId: customer, lines: [{ productId: high, quantity: 2 }, { productId: low, quantity: 3 }] }], w);
    const [onlyLow, onlyHigh, both] = [written(outcomes[0]), written(outcomes[1]), written(outcomes[2])];
    // Two writers, two transactions: the spanning order shares the batch of its smallest id's writer.
    expect(both.order.createdAt).toEqual(onlyLow.order.createdAt);
    expect(onlyHigh.order.createdAt).not.toEqual(onlyLow.order.createdAt);
    expect(both.stock).toEqual([
      { productId: low, stock: 6, version: expect.any(Number) },
      // 8 or 7: the other writer's order of `high` commits before or after this batch.
      { productId: high, stock: expect.any(Number), version: expect.any(Number) },
    ]);
    expect([await stockOf(t, low), await stockOf(t, high)]).toEqual([6, 7]);
    await w.close();
    expect(codeOf(await w.place(one(low)))).toBe('unavailable');
  });

  it('crossing multi-product orders from many clients through two processes: no deadlock, no oversell', async () => {
    const STOCK = 40;
    const products = (await productsPerPartition(2, STOCK)).flat();
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    // Two processes' worth of partitioned writers over one database.
    const [w1, w2] = [partitioned(logger), partitioned(logger)];
    let seed = 7;
    const random = (n: number) => (seed = (seed * 48_271) % 2_147_483_647) % n;
    const requests = Array.from({ length: 600 }, (): WriteRequest => {
      const picked = new Set(Array.from({ length: 2 + random(3) }, () => products[random(products.length)]!));
      // Lines in any order: the writer locks in id order whatever the request says.
      return { customerId: customer, lines: [...picked].map((productId) => ({ productId, quantity: 1 + random(2) })) };
    });
    const outcomes = await Promise.all(requests.map((r, i) => (i % 2 ? w1 : w2).place(r)));
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[codeOf(o)!] = (tally[codeOf(o)!] ?? 0) + 1;
    expect(Object.keys(tally).sort()).toEqual(['insufficient_stock', 'written']);
    // No batch ever failed (a deadlock would be retried, and logged here first).
    expect(logged).toEqual([]);
    const units = new Map<string, number>();
    for (const o of outcomes) if (o.kind === 'written') for (const l of o.order.lines) units.set(l.productId, (units.get(l.productId) ?? 0) + l.quantity);
    for (const id of products) {
      const left = await stockOf(t, id);
      expect(left).toBeGreaterThanOrEqual(0);
      expect(left + (units.get(id) ?? 0)).toBe(STOCK);
    }
    await Promise.all([w1.close(), w2.close()]);
  }, 60_000);
});

describe('the catalog version after a commit', () => {
  it('runs off the writer: the next batch is written meanwhile; each request resolves only after a move that began after its commit', async () => {
    const [p, q] = [await createProduct(t, { stock: 5 }), await createProduct(t, { stock: 5 })];
    const calls: string[][] = [];
    const gates: Array<() => void> = [];
    const w = createOrderWriter({
      primary: t.services.db.primary,
      stock: t.services.inventory,
      logger: t.services.logger,
      retentionSeconds: 86_400,
      maxBatch: 50,
      queueTimeoutMs: 30_000,
      afterCommit: (ids) => {
        calls.push(ids);
        return new Promise<void>((r) => gates.push(r));
      },
    });
    const until = async (condition: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 500 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 10));
    };
    let firstDone = false;
    const first = w.place(one(p.id)).then((o) => ((firstDone = true), o));
    await until(() => gates.length === 1);
    // The first batch's version move is still running: the second batch is written all the same...
    const second = w.place(one(q.id));
    const third = w.place(one(q.id));
    await until(async () => (await stockOf(t, q.id)) === 3);
    expect(await stockOf(t, q.id)).toBe(3);
    expect(firstDone).toBe(false);
    // ...and its requests wait for a move of their own, one at a time: both share the next one.
    expect(calls).toEqual([[p.id]]);
    gates[0]!();
    expect((await first).kind).toBe('written');
    await until(() => gates.length === 2);
    expect(calls).toEqual([[p.id], [q.id]]);
    gates[1]!();
    expect([(await second).kind, (await third).kind]).toEqual(['written', 'written']);
    await w.close();
  });
});
