/**
 * Flash-sale mode admits from the first order (issue 22): the stock mirror and what admission
 * needs of a product (name, price, archived) are written through to Redis by the staff write that
 * creates the product, so a sale needs no warm-up order and any API process can admit — also one
 * started since, and also while PostgreSQL is down. A mirror that is missing (a Redis restarted
 * empty) is loaded once for all concurrent callers, then admitted: a burst never falls through to
 * the sync path (201).
 *
 * Each sale runs on real PostgreSQL and Redis, with two API instances (own services, own memory)
 * on one database and one Redis key space; the product is created through the staff API just
 * before the burst — no warm-up order, no mirror written by the test. Whatever is stopped or
 * killed is private (test/helpers/private-services.ts), never the machine's shared servers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { withSecret } from '../../src/platform/signing-secret.ts';
import { createDatabase, queryRows, sql, type Database } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix, waitForRedis } from '../../src/platform/kv.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createServices } from '../../src/services.ts';
import { runStartupTasks } from '../../src/startup.ts';
import { createUser, login, type TestUser } from '../helpers/auth.ts';
import { privatePostgresAvailable, privateRedisAvailable, startPrivatePostgres, startPrivateRedis, type PrivateRedis } from '../helpers/private-services.ts';
import { createTestDatabase, type TestApp, type TestDatabase } from '../helpers/test-app.ts';
import { onRealPostgres, testRedisUrl } from '../helpers/test-env.ts';

const JWT_SECRET = randomBytes(32).toString('hex');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

/** One API process in flash-sale mode: its own services (memory, Redis client, pool), jobs off. */
async function apiProcess(database: TestDatabase, redisUrl: string, prefix: string) {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    SEED_DEMO_DATA: 'false',
    MIGRATE_ON_START: 'false',
    // Several processes over one database: one secret, as every deployment of several sets it.
    JWT_SECRET,
    DATABASE_URL: database.url!,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    ORDERS_MODE: 'async',
    RUN_JOBS_IN_API: 'false',
    ORDERS_ASYNC_CLAIM_IDLE_MS: '1000',
    // Thousands of requests at once in one test process on a shared 2-core machine: a command can
    // wait past the 1 s default in this process's own queue. The test counts answers, not latency.
    REDIS_COMMAND_TIMEOUT_MS: '15000',
  });
  const redis = createRedisClient(redisUrl, prefix, undefined, { commandTimeoutMs: 15_000 });
  await waitForRedis(redis);
  // Its own pool: a process of its own shares nothing with the other but the servers.
  const db = await createDatabase({ url: database.url!, poolMax: 10 });
  const services = await createServices(withSecret(config, JWT_SECRET), createLogger(config), { db, redis });
  await runStartupTasks(services);
  const app: App = await buildApp(services);
  await app.ready();
  const t = { app, services, database, redisPrefix: prefix } as unknown as TestApp;
  return {
    t,
    services,
    async close() {
      await app.close();
      await services.close();
    },
  };
}
type ApiProcess = Awaited<ReturnType<typeof apiProcess>>;

/** Two API processes over one database and one Redis key space, a staff member and customers. */
async function twoProcesses(database: TestDatabase, redisUrl: string, prefix = `test:${randomUUID()}:`) {
  const a = await apiProcess(database, redisUrl, prefix);
  const b = await apiProcess(database, redisUrl, prefix);
  const staff = await createUser(a.t, { staff: true });
  const customers = await Promise.all(Array.from({ length: 8 }, () => createUser(a.t)));
  return { a, b, staff, customers, prefix };
}

/** The product created as a shop does: POST through the staff API, a moment before the sale. */
async function createdByStaff(p: ApiProcess, staff: TestUser, quantity: number): Promise<string> {
  const res = await p.t.app.inject({
    method: 'POST',
    url: '/api/catalog/products/',
    headers: staff.auth,
    payload: { name: `Sale item ${randomUUID().slice(0, 8)}`, price: '19.99', quantity },
  });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

/** `n` concurrent one-unit orders, alternating between the processes and the customers. */
async function burst(processes: ApiProcess[], customers: TestUser[], productId: string, n: number) {
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      processes[i % processes.length]!.t.app.inject({
        method: 'POST',
        url: '/api/orders/orders/',
        headers: customers[i % customers.length]!.auth,
        payload: { order_items: [{ product: productId, quantity: 1 }] },
      }),
    ),
  );
  const count = (code: number) => answers.filter((r) => r.statusCode === code).length;
  return { answers, count, accepted: answers.filter((r) => r.statusCode === 202).map((r) => r.json().id as string) };
}

/** Drains the stream through one worker; every accepted order confirmed once, stock exact. */
async function confirmAll(p: ApiProcess, db: Database, productId: string, accepted: string[], initial: number) {
  const worker = p.services.orders.flashSale!.worker();
  worker.start();
  try {
    await until('the worker drains the stream', async () => (await p.services.redis!.xlen('orders:accepted')) === 0, 120_000);
  } finally {
    await worker.stop();
  }
  const rows = await queryRows<{ id: string; status: string }>(
    db.primary,
    sql`select o.id, o.status from orders.orders o join orders.order_lines l on l.order_id = o.id where l.product_id = ${productId}`,
  );
  expect(rows.length).toBe(accepted.length);
  expect(new Set(rows.map((r) => r.id))).toEqual(new Set(accepted));
  expect(rows.every((r) => r.status === 'confirmed')).toBe(true);
  const [row] = await queryRows<{ stock: number }>(db.primary, sql`select stock from catalog.products where id = ${productId}`);
  expect(row!.stock).toBe(initial - accepted.length);
}

describe.runIf(onRealPostgres && testRedisUrl)('flash-sale mode admits from the first order', () => {
  let database: TestDatabase | undefined;
  let sale: Awaited<ReturnType<typeof twoProcesses>> | undefined;
  afterAll(async () => {
    await sale?.a.close();
    await sale?.b.close();
    if (sale) await deleteKeysWithPrefix(testRedisUrl!, sale.prefix);
    await database?.drop();
  });

  it('2,000 concurrent one-unit orders for 500 units: exactly 500 × 202 and 1,500 × 409, then 500 confirmed, stock 0', async () => {
    database = await createTestDatabase({ replicas: false });
    sale = await twoProcesses(database, testRedisUrl!);
    const { a, b, staff, customers } = sale;
    const productId = await createdByStaff(a, staff, 500);
    const { count, accepted } = await burst([a, b], customers, productId, 2000);
    expect({ 201: count(201), 202: count(202), 409: count(409) }).toEqual({ 201: 0, 202: 500, 409: 1500 });
    await confirmAll(a, database.db, productId, accepted, 500);
  }, 300_000);

  it('1,000 concurrent orders for 1,000 units: all 1,000 answered 202 and confirmed', async () => {
    const { a, b, staff, customers } = sale!;
    const productId = await createdByStaff(b, staff, 1000);
    const { count, accepted } = await burst([a, b], customers, productId, 1000);
    expect({ 201: count(201), 202: count(202), 409: count(409) }).toEqual({ 201: 0, 202: 1000, 409: 0 });
    await confirmAll(b, database!.db, productId, accepted, 1000);
  }, 300_000);

  it('API processes restarted with empty memory: the first burst is still all 202', async () => {
    const { staff, customers, prefix } = sale!;
    const productId = await createdByStaff(sale!.a, staff, 300);
    await sale!.a.close();
    await sale!.b.close();
    const fresh = [await apiProcess(database!, testRedisUrl!, prefix), await apiProcess(database!, testRedisUrl!, prefix)];
    sale = { ...sale!, a: fresh[0]!, b: fresh[1]! };
    const { count, accepted } = await burst(fresh, customers, productId, 300);
    expect({ 201: count(201), 202: count(202), 409: count(409) }).toEqual({ 201: 0, 202: 300, 409: 0 });
    await confirmAll(fresh[0]!, database!.db, productId, accepted, 300);
  }, 300_000);
});

describe.runIf(onRealPostgres && privateRedisAvailable)('flash-sale mode: a mirror lost with its Redis', () => {
  let database: TestDatabase | undefined;
  let redisServer: PrivateRedis | undefined;
  let sale: Awaited<ReturnType<typeof twoProcesses>> | undefined;
  afterAll(async () => {
    await sale?.a.close();
    await sale?.b.close();
    await database?.drop();
    await redisServer?.stop();
  });

  it('is loaded once for the whole burst after Redis restarted empty, and every order is admitted', async () => {
    // No persistence: killed, it comes back empty (a failover to an empty node, an eviction).
    redisServer = await startPrivateRedis();
    database = await createTestDatabase({ replicas: false });
    sale = await twoProcesses(database, redisServer.url);
    const { a, b, staff, customers } = sale;
    const productId = await createdByStaff(a, staff, 300);
    await redisServer.kill('SIGKILL');
    await redisServer.restart();
    await until('both processes reconnect', async () => (await a.services.redis!.ping()) === 'PONG' && (await b.services.redis!.ping()) === 'PONG', 20_000);
    // Sessions were in that Redis too: sign in again, as the app would.
    const signedIn = await Promise.all(
      customers.slice(0, 4).map(async (c) => ({ ...c, auth: { authorization: `Bearer ${(await login(a.t, c.username, c.password)).access}` } })),
    );
    const { count, accepted } = await burst([a, b], signedIn, productId, 350);
    expect({ 201: count(201), 202: count(202), 409: count(409) }).toEqual({ 201: 0, 202: 300, 409: 50 });
    await confirmAll(a, database.db, productId, accepted, 300);
  }, 300_000);
});

describe.runIf(onRealPostgres && privatePostgresAvailable && testRedisUrl)('flash-sale mode: PostgreSQL stopped a second after the product was created', () => {
  let pgServer: Awaited<ReturnType<typeof startPrivatePostgres>> | undefined;
  let sale: Awaited<ReturnType<typeof twoProcesses>> | undefined;
  afterAll(async () => {
    await sale?.a.close();
    await sale?.b.close();
    if (sale) await deleteKeysWithPrefix(testRedisUrl!, sale.prefix);
    await pgServer?.destroy();
  });

  it('answers 200 × 202 and 100 × 409 for 300 orders of 200 units while it is down; all 200 confirmed once it is back', async () => {
    pgServer = await startPrivatePostgres();
    const db = await createDatabase({ url: pgServer.url, poolMax: 10 });
    await migrate(db);
    const database: TestDatabase = { db, url: pgServer.url, replicaUrls: [], drop: () => db.close() };
    sale = await twoProcesses(database, testRedisUrl!);
    const { a, b, staff, customers } = sale;
    const productId = await createdByStaff(a, staff, 200);
    await sleep(1000);
    await pgServer.stop();

    // Neither process has read the product: what admission needs is in Redis.
    const { count, accepted } = await burst([a, b], customers, productId, 300);
    expect({ 201: count(201), 202: count(202), 409: count(409), 503: count(503) }).toEqual({ 201: 0, 202: 200, 409: 100, 503: 0 });

    await pgServer.start();
    await confirmAll(a, db, productId, accepted, 200);
  }, 300_000);
});

describe.runIf(onRealPostgres && privateRedisAvailable)('flash-sale mode: Redis killed -9 mid-sale', () => {
  let database: TestDatabase | undefined;
  let redisServer: PrivateRedis | undefined;
  let sale: Awaited<ReturnType<typeof twoProcesses>> | undefined;
  afterAll(async () => {
    await sale?.a.close();
    await sale?.b.close();
    await database?.drop();
    await redisServer?.stop();
  });

  it('loses no accepted order when it restarts from its append-only file, and admission resumes for the same product', async () => {
    redisServer = await startPrivateRedis({ appendonly: true });
    database = await createTestDatabase({ replicas: false });
    sale = await twoProcesses(database, redisServer.url);
    const { a, b, staff, customers } = sale;
    const productId = await createdByStaff(a, staff, 500);
    // The kill lands while a burst is in flight: what was answered 202 must survive it.
    const first = burst([a, b], customers, productId, 300);
    await sleep(30);
    await redisServer.kill('SIGKILL');
    const during = await first;
    // Nothing answered but 202 (accepted), 409 or 503 (nothing ordered).
    expect(during.answers.every((r) => [202, 409, 503].includes(r.statusCode))).toBe(true);
    await redisServer.restart();
    await until('both processes reconnect', async () => (await a.services.redis!.ping()) === 'PONG' && (await b.services.redis!.ping()) === 'PONG', 20_000);
    expect(await a.services.redis!.xlen('orders:accepted')).toBe(during.accepted.length);

    const left = 500 - during.accepted.length;
    const after = await burst([a, b], customers, productId, left + 20);
    expect({ 202: after.count(202), 409: after.count(409) }).toEqual({ 202: left, 409: 20 });
    await confirmAll(a, database.db, productId, [...during.accepted, ...after.accepted], 500);
  }, 300_000);
});
