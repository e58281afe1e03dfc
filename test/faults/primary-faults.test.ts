/**
 * The primary database failing under load, through the fault proxy (never the shared server
 * itself): the reply to a COMMIT lost on its way back, connections reset, the server refusing
 * connections (as a stopped one does), added latency, a statement stuck behind a lock held by
 * another session, and the pool exhausted by such statements. Every request is bounded by the
 * deadlines (here: statement 1 s, pool acquire 1 s, client read 2.5 s); a stuck primary gives 503
 * `unavailable` with Retry-After, never a hang, never another 5xx; stock is conserved and each
 * Idempotency-Key yields at most one order, which its retry is told of.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { onRealPostgres, testDatabaseUrl } from '../helpers/test-env.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { recordFigures } from './figures.ts';
import { checkInvariants, openShop, recoveryMs, runLoad, settle, tally, type Shop } from './load.ts';
import { isCommit, startFaultProxy, type Fault, type FaultProxy } from './proxy.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const DEADLINES = { statementMs: 1000, queryMs: 2500, connectMs: 1000, idleInTransactionMs: 2000 };

describe.runIf(onRealPostgres)('primary database faults under load', () => {
  let t: TestApp;
  let proxy: FaultProxy;
  let shop: Shop;
  const placed = new Map<string, string>();

  beforeAll(async () => {
    const target = new URL(testDatabaseUrl!);
    proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) });
    t = await buildTestApp({ via: { primary: (url) => proxy.url(url) }, deadlines: DEADLINES, poolMax: 4 });
    shop = await openShop(t);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  const orderOnce = (key: string, productId: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/orders/orders/',
      headers: { ...shop.customers[0]!.auth, 'idempotency-key': key },
      payload: { order_items: [{ product: productId, quantity: 1 }] },
    });
  /** A probe order with one key, asked again until answered (a refused one may have committed). */
  const probeKey = { current: crypto.randomUUID() };
  const ordersAnswer = async () => {
    const res = await orderOnce(probeKey.current, shop.products[1]!.id);
    if (res.statusCode === 201) {
      placed.set(probeKey.current, res.json().id);
      probeKey.current = crypto.randomUUID();
    }
    return res.statusCode;
  };

  async function underFault(name: string, fault: Fault, ms = 2000) {
    const load = runLoad(t, shop, { ms: ms + 2500 });
    await sleep(1000);
    await proxy.set(fault);
    await sleep(ms);
    await proxy.set({ kind: 'pass' });
    const ended = Date.now();
    const result = await load;
    const firstOk = result.answers.find((a) => a.feature === 'order' && a.status === 201 && a.at >= ended);
    const recovered = firstOk ? firstOk.at - ended : Date.now() - ended + (await recoveryMs(ordersAnswer, 201));
    await settle(t, result);
    expect(result.violations).toEqual([]);
    expect(recovered, `recovery after ${name}`).toBeLessThan(5000);
    for (const [key, id] of result.placed) placed.set(key, id);
    recordFigures(`primary ${name}`, result, recovered);
    return result;
  }

  it('loses the reply to a COMMIT: the writer finds its own commit and answers 201; a retry with the key gets the same order', async () => {
    const product = await createProduct(t, { stock: 3 });
    const key = crypto.randomUUID();
    const dropped = proxy.dropReplyTo(isCommit);
    const first = await orderOnce(key, product.id);
    await dropped;
    expect(proxy.stats.dropped).toBeGreaterThan(0);
    // The batch's ids were fixed before its first attempt, so the retry finds the committed order
    // instead of writing a second one, and the client is told the truth at once.
    expect(first.statusCode).toBe(201);
    placed.set(key, first.json().id);

    const retry = await orderOnce(key, product.id);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json().id).toBe(first.json().id);
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      const orders = await client.query('select o.id from orders.orders o join orders.order_lines l on l.order_id = o.id where l.product_id = $1', [product.id]);
      expect(orders.rows.map((r: { id: string }) => r.id)).toEqual([retry.json().id]);
      const stock = await client.query('select stock from catalog.products where id = $1', [product.id]);
      expect(stock.rows[0].stock).toBe(2);
    } finally {
      await client.end();
    }
  });

  it('loses COMMIT replies under load: one order per key, stock conserved', async () => {
    const load = runLoad(t, shop, { ms: 4000, features: ['order', 'browse', 'cart'] });
    for (let i = 0; i < 3; i++) {
      await sleep(800);
      await proxy.dropReplyTo(isCommit, 100);
    }
    const result = await load;
    await settle(t, result);
    expect(result.violations).toEqual([]);
    expect(proxy.stats.dropped).toBeGreaterThan(0);
    for (const [key, id] of result.placed) placed.set(key, id);
    recordFigures('primary COMMIT reply lost x3', result, 0);
    await checkInvariants(t.database.url!, shop, placed);
  });

  it('connections reset (no connection is lost to the pool), refused (a stopped server), black-holed, then +20 ms latency: 503 or success, and back', async () => {
    await underFault('reset', { kind: 'reset' });
    await underFault('refused (down)', { kind: 'refuse' });
    // Open connections hang until the client's read timeout, new ones until the connect timeout.
    await underFault('black hole', { kind: 'blackhole' });
    const slow = await underFault('slow (+20 ms)', { kind: 'latency', ms: 20 });
    expect(tally(slow.answers)['order']?.[201] ?? 0).toBeGreaterThan(0);
    await checkInvariants(t.database.url!, shop, placed);
    // Every connection came back: one that failed at BEGIN used to stay checked out for good.
    const pool = (t.services.db.raw as { pool: pg.Pool }).pool;
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('a statement stuck behind a lock ends at the statement timeout, the exhausted pool at the acquire timeout: 503 in bounded time', async () => {
    const hot = shop.products[0]!;
    const locker = new pg.Client({ connectionString: t.database.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select stock from catalog.products where id = $1 for update', [hot.id]);
      const customers = await Promise.all(Array.from({ length: 12 }, () => createUser(t)));
      const started = Date.now();
      const answers = await Promise.all(
        customers.map(async (c) => {
          const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: c.auth, payload: { order_items: [{ product: hot.id, quantity: 1 }] } });
          return { status: res.statusCode, ms: Date.now() - started, body: res.json() as { code: string } };
        }),
      );
      // Four connections wait for the lock until the statement timeout; the others wait for one of
      // them until the acquire timeout. Every one is answered 503 well within a few seconds.
      expect(answers.map((a) => `${a.status} ${a.body.code}`)).toEqual(answers.map(() => '503 unavailable'));
      expect(answers.every((a) => a.body.code === 'unavailable')).toBe(true);
      expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(DEADLINES.statementMs * 4);
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
    expect(await recoveryMs(ordersAnswer, 201, 5000)).toBeLessThan(5000);
    await checkInvariants(t.database.url!, shop, placed);
  });
});
