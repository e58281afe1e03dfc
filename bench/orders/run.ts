/**
 * Orders per second with 32 concurrent clients, spread over 10,000 products and on one hot
 * product, over HTTP (the real server in a child process, one signed-in customer per client)
 * beside the same SQL transaction driven bare (placeInTransaction on a 32-connection pool, no
 * HTTP, no auth) in the same run as the ceiling.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/orders/run.ts
 *
 * Uses a dedicated database (opply_bench_orders), created and migrated fresh, dropped at the end.
 */
import { createDatabase, sql, type Database } from '../../src/platform/db.ts';
import { newId } from '../../src/platform/ids.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createOrderWriter } from '../../src/modules/orders/batch-writer.ts';
import { admin, databaseUrl, drive, httpClient, printRatios, signIn, startServer, stopServer, type Result } from '../lib.ts';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'opply_bench_orders';
const CLIENTS = 32;
const PRODUCTS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const PORT = 18_000 + Math.floor(Math.random() * 1000);

const dbUrl = databaseUrl(ADMIN_URL, DB_NAME);

async function seed(db: Database): Promise<{ spread: string[]; hot: string }> {
  await db.primary.execute(
    sql`insert into catalog.products (id, name, price_cents, stock)
        select gen_random_uuid(), 'Product ' || i, 100 + i, 1000000 from generate_series(1, ${PRODUCTS}) as i`,
  );
  const hot = newId();
  await db.primary.execute(sql`insert into catalog.products (id, name, price_cents, stock) values (${hot}, 'Hot product', 999, 100000000)`);
  const rows = (await db.primary.execute(sql`select id from catalog.products where id <> ${hot}`)) as unknown as { rows: Array<{ id: string }> };
  await db.primary.execute(sql`vacuum analyze catalog.products`);
  return { spread: rows.rows.map((r) => r.id), hot };
}

const pick = (ids: string[]) => ids[Math.floor(Math.random() * ids.length)]!;

/** The batching writer alone (what POST orders/ ends in), on a pool of its own, without HTTP. */
async function runBare(seconds: number, ids: () => string) {
  const db = await createDatabase({ url: dbUrl, poolMax: CLIENTS });
  const logger = createLogger(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn' }));
  const writer = createOrderWriter({ primary: db.primary, logger, retentionSeconds: 86_400, maxBatch: 200, queueTimeoutMs: 5000 });
  try {
    return await drive(CLIENTS, seconds, async (client) => {
      const outcome = await writer.place({ customerId: CUSTOMERS[client]!, lines: [{ productId: ids(), quantity: 1 }] });
      return outcome.kind === 'written' ? 'ok' : outcome.kind;
    });
  } finally {
    await writer.close();
    await db.close();
  }
}

const CUSTOMERS = Array.from({ length: CLIENTS }, () => newId());
const { request, close: closeClient } = httpClient(PORT, CLIENTS);

async function overHttp(tokens: string[], ids: () => string) {
  return drive(CLIENTS, SECONDS, async (client) => {
    const res = await request('POST', '/api/orders/orders/', { order_items: [{ product: ids(), quantity: 1 }] }, { authorization: tokens[client]! });
    return res.status === 201 ? 'ok' : `http ${res.status}`;
  });
}

async function main() {
  await admin(ADMIN_URL, `drop database if exists ${DB_NAME} with (force)`);
  await admin(ADMIN_URL, `create database ${DB_NAME}`);
  const setup = await createDatabase({ url: dbUrl, poolMax: 4 });
  await migrate(setup);
  const { spread, hot } = await seed(setup);
  await setup.close();
  const results: Result[] = [];
  const server = await startServer({
    port: PORT,
    databaseUrl: dbUrl,
    env: { DATABASE_POOL_MAX: String(CLIENTS), EDGE_RATE_LIMIT: 'bench' },
    request,
  });
  try {
    const tokens = await signIn(request, { count: CLIENTS, usernamePrefix: 'bench' });
    const scenarios = [
      { scenario: 'spread (10,000 products)', ids: () => pick(spread) },
      { scenario: 'hot (1 product)', ids: () => hot },
    ];
    // Warm-up of both paths (JIT, pools, plans), not counted.
    await runBare(2, () => pick(spread));
    await drive(CLIENTS, 2, async (client) => {
      await request('POST', '/api/orders/orders/', { order_items: [{ product: pick(spread), quantity: 1 }] }, { authorization: tokens[client]! });
      return 'ok';
    });
    // Bare and HTTP back to back per scenario, so both see the same background load on a shared machine.
    for (const { scenario, ids } of scenarios) {
      results.push({ scenario, mode: 'bare SQL', ...(await runBare(SECONDS, ids)) });
      results.push({ scenario, mode: 'HTTP', ...(await overHttp(tokens, ids)) });
    }
  } finally {
    closeClient();
    await stopServer(server);
    await admin(ADMIN_URL, `drop database if exists ${DB_NAME} with (force)`);
  }
  printRatios(results, { unit: 'orders', clients: CLIENTS, seconds: SECONDS, ceilingMode: 'bare SQL' });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
