/**
 * Holds per second with 64 concurrent clients on real Redis: over HTTP (PUT /api/cart/items/{id}/
 * on the real server in a child process, one signed-in customer per client) beside the bare Lua
 * hold script (the hold store's setHolds, 64 calls in flight, no HTTP, no auth, no database) in the
 * same run as the ceiling. Each client keeps a realistic cart of 5 lines and keeps changing one.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres BENCH_REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/cart/run.ts
 *
 * Uses a dedicated database (opply_bench_cart), dropped at the end, and a Redis key prefix of its
 * own, deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { createDatabase, sql } from '../../src/platform/db.ts';
import { newId } from '../../src/platform/ids.ts';
import { createRedisClient, deleteKeysWithPrefix, waitForRedis } from '../../src/platform/kv.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createRedisHoldStore } from '../../src/modules/catalog/holds-redis.ts';
import { admin, databaseUrl, drive, httpClient, printRatios, signIn, startServer, stopServer, type Result } from '../lib.ts';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = 'opply_bench_cart';
const CLIENTS = 64;
const LINES = 5;
const STOCK = 100_000_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const PORT = 19_000 + Math.floor(Math.random() * 1000);
const PREFIX = `bench:cart:${randomUUID()}:`;

const dbUrl = databaseUrl(ADMIN_URL, DB_NAME);
const { request, close: closeClient } = httpClient(PORT, CLIENTS);

/** Client c's cart: its own 5 products (spread), or the hot product for every line change. */
type Scenario = { name: string; product: (client: number, round: number) => string };

async function main() {
  await admin(ADMIN_URL, `drop database if exists ${DB_NAME} with (force)`);
  await admin(ADMIN_URL, `create database ${DB_NAME}`);
  const setup = await createDatabase({ url: dbUrl, poolMax: 4 });
  await migrate(setup);
  const own = Array.from({ length: CLIENTS * LINES }, () => newId());
  const hot = newId();
  for (const id of [...own, hot]) {
    await setup.primary.execute(sql`insert into catalog.products (id, name, price_cents, stock) values (${id}, ${'Bench ' + id.slice(-6)}, 1999, ${STOCK})`);
  }
  await setup.close();

  const redis = createRedisClient(REDIS_URL, `${PREFIX}bare:`);
  await waitForRedis(redis);
  const store = createRedisHoldStore(redis);
  const scenarios: Scenario[] = [
    { name: `spread (${LINES}-line carts, ${CLIENTS * LINES} products)`, product: (c, r) => own[c * LINES + (r % LINES)]! },
    { name: 'hot (every client on 1 product)', product: () => hot },
  ];
  const quantity = (round: number) => 1 + (round % 3);
  const results: Result[] = [];
  const server = await startServer({ port: PORT, databaseUrl: dbUrl, env: { REDIS_URL, REDIS_KEY_PREFIX: `${PREFIX}http:` }, request });
  try {
    const tokens = await signIn(request, { count: CLIENTS, usernamePrefix: 'cartbench', loginHeaders: (i) => ({ 'x-forwarded-for': `10.0.0.${i}` }) });
    const overHttp = (s: Scenario, seconds: number) =>
      drive(CLIENTS, seconds, async (c, r) => {
        const res = await request('PUT', `/api/cart/items/${s.product(c, r)}/`, { quantity: quantity(r) }, { authorization: tokens[c]! });
        return res.status === 200 ? 'ok' : `http ${res.status}`;
      });
    const bare = (s: Scenario, seconds: number) =>
      drive(CLIENTS, seconds, async (c, r) => {
        const result = await store.setHolds(`cart:bench-${c}`, [{ productId: s.product(c, r), quantity: quantity(r), stock: STOCK, version: 1 }], 1800);
        return result.ok ? 'ok' : `refused ${result.reason}`;
      });
    // Warm-up (JIT, pools, script cache), not counted.
    await bare(scenarios[0]!, 2);
    await overHttp(scenarios[0]!, 2);
    for (const s of scenarios) {
      results.push({ scenario: s.name, mode: 'bare Lua', ...(await bare(s, SECONDS)) });
      results.push({ scenario: s.name, mode: 'HTTP', ...(await overHttp(s, SECONDS)) });
    }
  } finally {
    closeClient();
    await stopServer(server);
    await admin(ADMIN_URL, `drop database if exists ${DB_NAME} with (force)`);
    await deleteKeysWithPrefix(REDIS_URL, PREFIX);
    redis.disconnect();
  }
  printRatios(results, { unit: 'holds', clients: CLIENTS, seconds: SECONDS, ceilingMode: 'bare Lua' });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
