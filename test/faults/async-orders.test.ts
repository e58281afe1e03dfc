/**
 * Flash-sale mode (ORDERS_MODE=async) under faults, on real PostgreSQL and Redis. What is killed
 * or stopped is always private (test/helpers/private-services.ts) or a child process of the test:
 *  - the worker (`src/worker.ts` as a child) killed -9 mid-drain and started again → every
 *    accepted order confirmed exactly once (one row, one order.confirmed event, stock exact);
 *  - the PostgreSQL primary (private) stopped ~10 s mid-sale → orders still answered 202, all
 *    confirmed after it returns;
 *  - Redis (private, appendonly yes, appendfsync always) killed -9 right after accepting and
 *    restarted from its append-only file → no accepted order lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { createAsyncWorker, type AsyncWorker } from '../../src/modules/orders/flash-sale/worker.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { withSecret } from '../../src/platform/signing-secret.ts';
import { createDatabase, queryRows, sql, type Database } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix, waitForRedis } from '../../src/platform/kv.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createServices } from '../../src/services.ts';
import { runStartupTasks } from '../../src/startup.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
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

/**
 * The app in flash-sale mode over `database` and the Redis at `redisUrl` (own key prefix), jobs
 * off; with `logLines`, its log at info level is parsed into that array instead of silenced.
 */
async function asyncApp(database: TestDatabase, redisUrl: string, prefix = `test:${randomUUID()}:`, logLines?: LogLine[]) {
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
    // 600 orders at once on a Redis that fsyncs every write: on a busy CI machine a command can
    // take over the 1 s default, and the order would be a 503 the test is not about.
    REDIS_COMMAND_TIMEOUT_MS: '15000',
  });
  const redis = createRedisClient(redisUrl, prefix, undefined, { commandTimeoutMs: 15_000 });
  await waitForRedis(redis);
  const logger = logLines ? createLogger({ ...config, log: { ...config.log, level: 'info' } }, collect(logLines)) : createLogger(config);
  const services = await createServices(withSecret(config, JWT_SECRET), logger, { db: database.db, redis });
  await runStartupTasks(services);
  const app: App = await buildApp(services);
  await app.ready();
  const t = { app, services, database, redisPrefix: prefix } as unknown as TestApp;
  return {
    t,
    services,
    prefix,
    worker: () =>
      createAsyncWorker({ redis: services.redis!, primary: services.db.primary, inventory: services.inventory, logger: services.logger, write: services.orders.write, claimIdleMs: 1000 }),
    async close() {
      await app.close();
      await services.close();
    },
  };
}

type AsyncApp = Awaited<ReturnType<typeof asyncApp>>;
type LogLine = { level: number; msg: string } & Record<string, unknown>;

const collect = (lines: LogLine[]) =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });

const place = (a: AsyncApp, user: TestUser, productId: string) =>
  a.t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: user.auth, payload: { order_items: [{ product: productId, quantity: 1 }] } });

/** Every accepted id is one confirmed row with one order.confirmed event; stock is exactly what they left. */
async function expectConfirmedOnce(db: Database, productId: string, accepted: string[], initial: number) {
  const rows = await queryRows<{ id: string; status: string; events: number }>(
    db.primary,
    sql`select o.id, o.status,
               (select count(*)::int from orders.outbox b where b.payload->>'order_id' = o.id::text and b.topic = 'order.confirmed') as events
        from orders.orders o join orders.order_lines l on l.order_id = o.id where l.product_id = ${productId}`,
  );
  expect(rows.length).toBe(accepted.length);
  expect(new Set(rows.map((r) => r.id))).toEqual(new Set(accepted));
  expect(rows.every((r) => r.status === 'confirmed' && r.events === 1)).toBe(true);
  const [stock] = await queryRows<{ stock: number }>(db.primary, sql`select stock from catalog.products where id = ${productId}`);
  expect(stock!.stock).toBe(initial - accepted.length);
}

async function acceptMany(a: AsyncApp, user: TestUser, productId: string, n: number): Promise<string[]> {
  const answers = await Promise.all(Array.from({ length: n }, () => place(a, user, productId)));
  expect(answers.map((r) => r.statusCode)).toEqual(answers.map(() => 202));
  return answers.map((r) => r.json().id as string);
}

/**
 * A sale on private services: a Redis that persists every write (AOF, fsync always: the worker
 * refuses any other), a fresh database, the app over them, a customer, and a product of `stock`
 * units with its mirror loaded. `close()` removes whatever of it was started.
 */
async function privateSale(stock: number) {
  const started: { redisServer?: PrivateRedis; database?: TestDatabase; a?: AsyncApp } = {};
  const close = async () => {
    await started.a?.close();
    await started.database?.drop();
    await started.redisServer?.stop();
  };
  try {
    const redisServer = (started.redisServer = await startPrivateRedis({ appendonly: true }));
    const database = (started.database = await createTestDatabase({ replicas: false }));
    const a = (started.a = await asyncApp(database, redisServer.url));
    const user = await createUser(a.t);
    const p = await createProduct(a.t, { stock });
    return { redisServer, database, a, user, p, close };
  } catch (error) {
    await close();
    throw error;
  }
}

type PrivateSale = Awaited<ReturnType<typeof privateSale>>;

describe.runIf(onRealPostgres && privateRedisAvailable)('flash-sale mode: the worker killed -9 mid-drain', () => {
  let sale: PrivateSale | undefined;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await sale?.close();
  });

  const startWorker = () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: sale!.database.url!,
        REDIS_URL: sale!.redisServer.url,
        REDIS_KEY_PREFIX: sale!.a.prefix,
        ORDERS_MODE: 'async',
        MIGRATE_ON_START: 'false',
        SEED_DEMO_DATA: 'false',
        // Small batches, so the drain takes long enough to be interrupted.
        ORDERS_BATCH_MAX: '2',
        ORDERS_ASYNC_CLAIM_IDLE_MS: '1000',
      },
      stdio: 'ignore',
    });
    return proc;
  };

  it('refuses to start on a Redis that does not persist every write, saying why', async () => {
    const db = await createTestDatabase({ replicas: false });
    try {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
        env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: db.url!, REDIS_URL: testRedisUrl ?? 'redis://127.0.0.1:6379', ORDERS_MODE: 'async', MIGRATE_ON_START: 'false' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise((r) => proc.once('exit', r));
      expect(code).not.toBe(0);
      expect(stderr).toMatch(/ORDERS_MODE=async refuses this Redis/);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('confirms every accepted order exactly once after a restart', async () => {
    sale = await privateSale(1000);
    const { a, database, user, p } = sale;
    const accepted = await acceptMany(a, user, p.id, 600);
    const redis = a.services.redis!;

    child = startWorker();
    await until('the worker writes some', async () => (await redis.xlen('orders:accepted')) < 560, 60_000);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const left = await redis.xlen('orders:accepted');
    expect(left).toBeGreaterThan(0); // killed mid-drain

    child = startWorker();
    await until('the restarted worker drains the stream', async () => (await redis.xlen('orders:accepted')) === 0, 120_000);
    child.kill('SIGTERM');
    await expectConfirmedOnce(database.db, p.id, accepted, 1000);
    expect(await stockOf(a.t, p.id)).toBe(400);
  }, 240_000);
});

describe.runIf(onRealPostgres && testRedisUrl && privatePostgresAvailable)('flash-sale mode: the PostgreSQL primary stopped mid-sale', () => {
  let a: AsyncApp | undefined;
  let worker: AsyncWorker | undefined;
  let pgServer: Awaited<ReturnType<typeof startPrivatePostgres>> | undefined;
  afterAll(async () => {
    await worker?.stop();
    await a?.close();
    if (a) await deleteKeysWithPrefix(testRedisUrl!, a.prefix);
    await pgServer?.destroy();
  });

  it('answers 202 while it is down and confirms everything once it is back', async () => {
    pgServer = await startPrivatePostgres();
    const db = await createDatabase({ url: pgServer.url, poolMax: 10 });
    await migrate(db);
    const database: TestDatabase = { db, url: pgServer.url, replicaUrls: [], drop: () => db.close() };
    const log: LogLine[] = [];
    a = await asyncApp(database, testRedisUrl!, undefined, log);
    const user = await createUser(a.t);
    const p = await createProduct(a.t, { stock: 2000 });
    const before = await acceptMany(a, user, p.id, 50); // also remembers the product's name and price
    worker = a.worker();
    worker.start();

    await pgServer.stop();
    const during: string[] = [];
    const stoppedAt = Date.now();
    while (Date.now() - stoppedAt < 10_000) {
      during.push(...(await acceptMany(a, user, p.id, 10)));
      await sleep(200);
    }
    expect(during.length).toBeGreaterThan(100);
    expect((await a.t.app.inject({ method: 'GET', url: `/api/orders/orders/${during[0]}/`, headers: user.auth })).json().status).toBe('pending');
    // The received mails' flusher retried every 200 ms over the 10 s (issue 25): one warning, not fifty.
    const flusherWarnings = () => log.filter((l) => l.msg === 'received mails not queued yet; retrying');
    expect(flusherWarnings()).toHaveLength(1);
    expect(flusherWarnings()[0]).toMatchObject({ level: 40, failed_attempts: 1 });
    await pgServer.start();

    const redis = a.services.redis!;
    await until('the worker drains the stream after the primary is back', async () => (await redis.xlen('orders:accepted')) === 0, 60_000);
    await expectConfirmedOnce(db, p.id, [...before, ...during], 2000);
    // One line says the flusher is back, with how many attempts failed meanwhile.
    await until('the flusher says it is back', async () => log.some((l) => l.msg === 'received mails queued again'), 30_000);
    const back = log.filter((l) => l.msg === 'received mails queued again');
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ level: 30 });
    expect(back[0]!['failed_attempts']).toBeGreaterThan(10);
    expect(flusherWarnings()).toHaveLength(1);
  }, 180_000);
});

describe.runIf(onRealPostgres && privateRedisAvailable)('flash-sale mode: Redis killed -9 right after accepting', () => {
  let sale: PrivateSale | undefined;
  let worker: AsyncWorker | undefined;
  afterAll(async () => {
    await worker?.stop();
    await sale?.close();
  });

  it('loses no accepted order when it restarts from its append-only file', async () => {
    sale = await privateSale(500);
    const { a, database, redisServer, user, p } = sale;
    const accepted = await acceptMany(a, user, p.id, 200);
    await redisServer.kill('SIGKILL');
    await redisServer.restart();

    const redis = a.services.redis!;
    await until('the app reconnects to the restarted Redis', async () => (await redis.ping()) === 'PONG', 20_000);
    expect(await redis.xlen('orders:accepted')).toBe(200);
    worker = a.worker();
    worker.start();
    await until('the worker drains the stream', async () => (await redis.xlen('orders:accepted')) === 0, 60_000);
    await expectConfirmedOnce(database.db, p.id, accepted, 500);
    // The mirror survived too: the remaining 300 units, not one more.
    const more = await Promise.all(Array.from({ length: 301 }, () => place(a, user, p.id)));
    expect(more.filter((r) => r.statusCode === 202).length).toBe(300);
  }, 180_000);
});

describe.runIf(onRealPostgres && privateRedisAvailable)('flash-sale mode: reading orders while Redis is down', () => {
  let sale: PrivateSale | undefined;
  afterAll(async () => {
    await sale?.close();
  });

  it('answers a written order from PostgreSQL; only a pending one gets 503 unavailable with Retry-After', async () => {
    sale = await privateSale(10); // its Redis persists: the pending order survives the stop
    const { a, redisServer, user, p } = sale;
    const [written] = await acceptMany(a, user, p.id, 1);
    const worker = a.worker();
    await worker.ensureGroup();
    while ((await a.services.redis!.xlen('orders:accepted')) > 0) await worker.runOnce();
    const [pending] = await acceptMany(a, user, p.id, 1);
    const get = (id: string) => a.t.app.inject({ method: 'GET', url: `/api/orders/orders/${id}/`, headers: user.auth });

    await redisServer.kill('SIGKILL');
    const confirmed = await get(written!);
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toMatchObject({ id: written, status: 'confirmed' });
    const unknown = await get(pending!);
    expect(unknown.statusCode).toBe(503);
    expect(unknown.json().code).toBe('unavailable');
    expect(unknown.headers['retry-after']).toBeDefined();
    // The history: written orders from PostgreSQL; a list of pending ones only Redis can give.
    const history = await a.t.app.inject({ method: 'GET', url: '/api/orders/orders/', headers: user.auth });
    expect(history.statusCode).toBe(200);
    expect(history.json().results.map((o: { id: string }) => o.id)).toEqual([written]);
    const pendingOnly = await a.t.app.inject({ method: 'GET', url: '/api/orders/orders/?status=pending', headers: user.auth });
    expect(pendingOnly.statusCode).toBe(503);

    await redisServer.restart();
    await until('the app reconnects to Redis', async () => (await a.services.redis!.ping()) === 'PONG', 20_000);
    expect((await get(pending!)).statusCode).toBe(200);
  }, 120_000);
});
