/**
 * Flash-sale mode (ORDERS_MODE=async) through the HTTP edge, on real PostgreSQL and Redis (the
 * mode needs Redis): admission answers 202 pending, the worker writes and confirms, shortages are
 * refused at once, idempotent replays, the sync fallback for a product without a mirror, and the
 * 2,000-orders-for-500-units sale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sql } from '../../../platform/db.ts';
import { createUser, type TestUser } from '../../../../test/helpers/auth.ts';
import { createProduct, stockOf } from '../../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../../test/helpers/test-app.ts';
import { onRealPostgres, testRedisUrl } from '../../../../test/helpers/test-env.ts';
import { newId } from '../../../platform/ids.ts';
import { asyncMetrics } from './metrics.ts';
import { DEAD_LETTER } from './poison.ts';
import { createAsyncReconciler } from './reconciler.ts';
import { createAsyncWorker, type AsyncWorker } from './worker.ts';

describe.runIf(onRealPostgres && testRedisUrl)('flash-sale mode (ORDERS_MODE=async)', () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let worker: AsyncWorker;

  beforeAll(async () => {
    t = await buildTestApp({ env: { ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false', ORDERS_ASYNC_CLAIM_IDLE_MS: '60000', REDIS_COMMAND_TIMEOUT_MS: '15000' } });
    [alice, bob] = await Promise.all([createUser(t), createUser(t)]);
    const { redis, db, logger, orders, config } = t.services;
    worker = createAsyncWorker({ redis: redis!, primary: db.primary, inventory: t.services.inventory, logger, write: orders.write, claimIdleMs: config.orders.claimIdleMs });
    await worker.ensureGroup();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const order = (user: TestUser, productId: string, quantity = 1, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...user.auth, ...headers }, payload: { order_items: [{ product: productId, quantity }] } });
  const get = (user: TestUser, id: string) => t.app.inject({ method: 'GET', url: `/api/orders/orders/${id}/`, headers: user.auth });
  /** Runs the worker until the stream is empty. */
  const drain = async () => {
    while ((await t.services.redis!.xlen('orders:accepted')) > 0) await worker.runOnce();
  };
  // The reconciler, the mirror's repair path (the staff API writes a product's mirror through).
  const reconcile = (productId: string) => createAsyncReconciler({ redis: t.services.redis!, inventory: t.services.inventory }).reconcile([productId]);

  it('loads a missing mirror at admission and admits from the first order (202 pending, Location), then confirms', async () => {
    // Written straight into the table: no staff write moved the mirror, so the first order finds none.
    const p = await createProduct(t, { stock: 5, priceCents: 1250 });
    const first = await order(alice, p.id);
    expect(first.statusCode).toBe(202);
    expect(first.json().status).toBe('pending');

    const second = await order(alice, p.id, 2);
    expect(second.statusCode).toBe(202);
    const pending = second.json();
    expect(pending).toMatchObject({ status: 'pending', total: '25.00', cancel_reason: null });
    expect(second.headers.location).toBe(`/api/orders/orders/${pending.id}/`);
    expect((await get(alice, pending.id)).json().status).toBe('pending');
    expect((await get(bob, pending.id)).statusCode).toBe(404);
    // Read-your-writes: the pending order leads the customer's history, and is no one else's.
    const history = (await t.app.inject({ method: 'GET', url: '/api/orders/orders/', headers: alice.auth })).json();
    expect(history.results.map((o: { id: string; status: string }) => [o.id, o.status])).toEqual([
      [pending.id, 'pending'],
      [first.json().id, 'pending'],
    ]);
    expect(history.count).toBe(2);
    expect((await t.app.inject({ method: 'GET', url: '/api/orders/orders/', headers: bob.auth })).json().count).toBe(0);
    expect(await stockOf(t, p.id)).toBe(5); // not written yet

    await drain();
    const after = (await t.app.inject({ method: 'GET', url: '/api/orders/orders/', headers: alice.auth })).json();
    expect(after.results.map((o: { status: string }) => o.status)).toEqual(['confirmed', 'confirmed']);
    const confirmed = (await get(alice, pending.id)).json();
    expect(confirmed).toMatchObject({ id: pending.id, status: 'confirmed', total: '25.00', created_at: pending.created_at });
    expect(await stockOf(t, p.id)).toBe(2);
    const events = await queryRows<{ topic: string }>(t.services.db.primary, sql`select topic from orders.outbox where payload->>'order_id' = ${pending.id}`);
    expect(events.map((e) => e.topic)).toEqual(['order.confirmed']);
  });

  it('refuses a shortage at once with 409, counting accepted units and others’ cart holds', async () => {
    const p = await createProduct(t, { stock: 3 });
    expect((await order(alice, p.id, 2)).statusCode).toBe(202);
    const cart = await t.app.inject({ method: 'PUT', url: `/api/cart/items/${p.id}/`, headers: bob.auth, payload: { quantity: 1 } });
    expect(cart.statusCode).toBe(200);
    const short = await order(alice, p.id, 1);
    expect(short.statusCode).toBe(409);
    expect(short.json()).toMatchObject({ code: 'insufficient_stock', items: [{ product: p.id, requested: 1, available: 0 }] });
    // The holder's checkout gets its held unit: 202.
    const checkout = await t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: bob.auth });
    expect(checkout.statusCode).toBe(202);
    expect(checkout.json().status).toBe('pending');
    await drain();
    expect((await get(bob, checkout.json().id)).json().status).toBe('confirmed');
    expect(await stockOf(t, p.id)).toBe(0);
  });

  it('replays an accepted order for the same Idempotency-Key (202, current status) and refuses another body with the key', async () => {
    const p = await createProduct(t, { stock: 10 });
    const key = { 'idempotency-key': `k-${p.id}` };
    const first = await order(alice, p.id, 1, key);
    expect(first.statusCode).toBe(202);
    const again = await order(alice, p.id, 1, key);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    expect((await order(alice, p.id, 2, key)).json().code).toBe('idempotency_key_reused');
    await drain();
    const replayed = await order(alice, p.id, 1, key);
    expect(replayed.statusCode).toBe(202);
    expect(replayed.json()).toMatchObject({ id: first.json().id, status: 'confirmed' });
    expect(await stockOf(t, p.id)).toBe(9);
  });

  it('cancels (out_of_stock) an accepted order the database cannot fill and gives its units back to the mirror', async () => {
    const p = await createProduct(t, { stock: 2 });
    const accepted = await order(alice, p.id, 2);
    expect(accepted.statusCode).toBe(202);
    // Stock taken behind the mirror's back (no mirror move): the database is the final word.
    await t.services.db.primary.execute(sql`update catalog.products set stock = 1, version = version + 1 where id = ${p.id}`);
    await drain();
    const cancelled = (await get(alice, accepted.json().id)).json();
    expect(cancelled).toMatchObject({ status: 'cancelled', cancel_reason: 'out_of_stock' });
    const events = await queryRows<{ topic: string }>(t.services.db.primary, sql`select topic from orders.outbox where payload->>'order_id' = ${cancelled.id}`);
    expect(events.map((e) => e.topic)).toEqual(['order.cancelled']);
    // The mirror moved to the database's 1 unit, none accepted: one more unit can be ordered, not two.
    expect((await order(alice, p.id, 2)).statusCode).toBe(409);
    expect((await order(alice, p.id, 1)).statusCode).toBe(202);
    await drain();
    expect(await stockOf(t, p.id)).toBe(0);
  });

  it('settles a poison entry once refused on its ORDERS_ASYNC_MAX_DELIVERIES-th delivery (cancelled unprocessable, units back), dead-letters what cannot be written or parsed', async () => {
    const p = await createProduct(t, { stock: 5 });
    const good = (await order(alice, p.id, 1)).json().id as string;
    const redis = t.services.redis!;
    // Inventory's mirror hash of the product (inventory/holds-lua.ts layout): where `a` is kept.
    const hash = `hold:p:${p.id}`;
    const entry = (id: string, customer: string, quantity: number) =>
      JSON.stringify({ id, customer, at: Date.now(), lines: [{ product: p.id, quantity, name: 'Poison', price_cents: 100 }] });
    // A quantity above the database's integer range: refused on every delivery, writable without its lines.
    const poisonId = newId();
    await redis.hincrby(hash, 'a', 3_000_000_000);
    await redis.xadd('orders:accepted', '*', 'order', entry(poisonId, alice.id, 3_000_000_000));
    // A customer id the database cannot store: not even the cancellation can be written.
    const strayId = newId();
    await redis.hincrby(hash, 'a', 1);
    await redis.xadd('orders:accepted', '*', 'order', entry(strayId, 'not-a-uuid', 1));
    await redis.xadd('orders:accepted', '*', 'order', '{not json');
    const count = async (outcome: string) => (await asyncMetrics.poisonTotal.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    const [cancelledBefore, deadBefore] = [await count('cancelled'), await count('dead_letter')];
    const deadLettersBefore = await redis.xlen(DEAD_LETTER);

    // The reconciler reads past the malformed entry, counting the other two.
    await reconcile(p.id);
    expect(Number(await redis.hget(hash, 'a'))).toBe(3_000_000_002);
    const poisoned = createAsyncWorker({ redis, primary: t.services.db.primary, inventory: t.services.inventory, logger: t.services.logger, write: t.services.orders.write, claimIdleMs: 100, maxDeliveries: 3 });
    await poisoned.runOnce();
    // First delivery: the neighbour is confirmed, the unparseable entry dead-lettered, the two poison ones wait.
    expect((await get(alice, good)).json().status).toBe('confirmed');
    expect(await redis.xlen('orders:accepted')).toBe(2);
    const deadline = Date.now() + 30_000;
    while ((await redis.xlen('orders:accepted')) > 0 && Date.now() < deadline) await poisoned.runOnce();
    expect(await redis.xlen('orders:accepted')).toBe(0);

    expect((await get(alice, poisonId)).json()).toMatchObject({ status: 'cancelled', cancel_reason: 'unprocessable', order_items: [] });
    const events = await queryRows<{ topic: string }>(t.services.db.primary, sql`select topic from orders.outbox where payload->>'order_id' = ${poisonId}`);
    expect(events.map((e) => e.topic)).toEqual(['order.cancelled']);
    expect(await redis.xlen(DEAD_LETTER)).toBe(deadLettersBefore + 2);
    expect(await redis.hget(hash, 'a')).toBe('0'); // every accepted unit given back
    expect([await count('cancelled'), await count('dead_letter')]).toEqual([cancelledBefore + 1, deadBefore + 2]);
    expect((await order(alice, p.id, 4)).statusCode).toBe(202); // the 4 units left are still for sale
    await drain();
    expect(await stockOf(t, p.id)).toBe(0);
  });

  it('removes consumers that are long idle with nothing pending (XGROUP DELCONSUMER), keeping any that holds entries', async () => {
    const redis = t.services.redis!;
    const p = await createProduct(t, { stock: 1 });
    await order(alice, p.id, 1);
    await redis.xgroup('CREATECONSUMER', 'orders:accepted', 'order-writers', 'dead-empty');
    // A dead consumer still holding an entry: removing it would drop that entry from the group.
    await redis.xreadgroup('GROUP', 'order-writers', 'dead-holding', 'COUNT', 1, 'STREAMS', 'orders:accepted', '>');
    await new Promise((r) => setTimeout(r, 100));
    const names = async () => ((await redis.xinfo('CONSUMERS', 'orders:accepted', 'order-writers')) as string[][]).map((c) => c[1]);
    expect(await names()).toEqual(expect.arrayContaining(['dead-empty', 'dead-holding']));
    const reconciler = createAsyncReconciler({ redis, inventory: t.services.inventory });
    expect(await reconciler.pruneConsumers(60_000)).toEqual([]); // not idle long enough
    const removed = await reconciler.pruneConsumers(50, worker.consumer);
    expect(removed).toContain('dead-empty');
    expect(await names()).not.toContain('dead-empty');
    expect(await names()).toContain('dead-holding');
    expect(await names()).toContain(worker.consumer);
    // The held entry is still claimable: a live worker takes it over and confirms it.
    const claimer = createAsyncWorker({ redis, primary: t.services.db.primary, inventory: t.services.inventory, logger: t.services.logger, write: t.services.orders.write, claimIdleMs: 100 });
    await claimer.runOnce();
    expect(await redis.xlen('orders:accepted')).toBe(0);
    expect(await stockOf(t, p.id)).toBe(0);
  });

  it('shows customers catalog quantities without the accepted-but-unwritten units, from the same summaries (no extra Redis call)', async () => {
    const p = await createProduct(t, { stock: 5 });
    const quantity = async () => (await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: bob.auth })).json().quantity as number;
    const listed = async () => {
      const page = await t.app.inject({ method: 'GET', url: '/api/catalog/products/?limit=100&in_stock=false&ordering=-created_at', headers: bob.auth });
      return (page.json().results as Array<{ id: string; quantity: number }>).find((r) => r.id === p.id)?.quantity;
    };
    expect(await quantity()).toBe(5);
    expect((await order(alice, p.id, 2)).statusCode).toBe(202);
    expect([await quantity(), await listed()]).toEqual([3, 3]); // stock still 5 in the database
    expect((await t.app.inject({ method: 'PUT', url: `/api/cart/items/${p.id}/`, headers: bob.auth, payload: { quantity: 1 } })).statusCode).toBe(200);
    expect(await quantity()).toBe(2); // held and accepted units together
    expect((await t.app.inject({ method: 'DELETE', url: '/api/cart/', headers: bob.auth })).statusCode).toBe(204);
    expect(await quantity()).toBe(3);
    // The reconciler recomputes the same figure from the stream.
    await reconcile(p.id);
    expect(await quantity()).toBe(3);
    await drain();
    expect([await quantity(), await listed(), await stockOf(t, p.id)]).toEqual([3, 3, 3]);
  });

  it('moves the mirror on a staff stock change, so admission sees it at once', async () => {
    const staff = await createUser(t, { staff: true });
    const p = await createProduct(t, { stock: 1 });
    expect((await order(alice, p.id, 1)).statusCode).toBe(202);
    expect((await order(alice, p.id, 1)).statusCode).toBe(409);
    const restock = await t.app.inject({ method: 'POST', url: `/api/catalog/products/${p.id}/inventory/`, headers: staff.auth, payload: { delta: 2 } });
    expect(restock.statusCode).toBe(200);
    expect((await order(alice, p.id, 2)).statusCode).toBe(202);
    expect((await order(alice, p.id, 1)).statusCode).toBe(409);
    await drain();
    expect(await stockOf(t, p.id)).toBe(0);
  });

  it('2,000 concurrent one-unit orders for 500 units: exactly 500 × 202 and 1,500 × 409, then 500 confirmed, none pending, stock 0', async () => {
    const p = await createProduct(t, { stock: 500 });
    const buyers = [alice, bob];
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => order(buyers[i % 2]!, p.id)));
    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 202: 500, 409: 1500 });
    await drain();
    const rows = await queryRows<{ status: string; n: number }>(
      t.services.db.primary,
      sql`select o.status, count(*)::int as n from orders.orders o join orders.order_lines l on l.order_id = o.id where l.product_id = ${p.id} group by o.status`,
    );
    expect(rows).toEqual([{ status: 'confirmed', n: 500 }]);
    expect(await stockOf(t, p.id)).toBe(0);
    const ids = answers.filter((a) => a.statusCode === 202).map((a) => a.json().id as string);
    expect(new Set(ids).size).toBe(500);
  }, 120_000);
});
