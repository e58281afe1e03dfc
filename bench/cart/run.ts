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
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { createDatabase, sql } from '../../src/platform/db.ts';
import { newId } from '../../src/platform/ids.ts';
import { createRedisClient, waitForRedis } from '../../src/platform/kv.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createRedisHoldStore } from '../../src/modules/catalog/holds-redis.ts';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = 'opply_bench_cart';
const CLIENTS = 64;
const LINES = 5;
const STOCK = 100_000_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const PORT = 19_000 + Math.floor(Math.random() * 1000);
const PREFIX = `bench:cart:${randomUUID()}:`;

const dbUrl = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();

async function admin(text: string) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Runs `clients` loops of `once` for `seconds`; counts by outcome. */
async function drive(seconds: number, once: (client: number, round: number) => Promise<string>) {
  const counts = new Map<string, number>();
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let round = 0; Date.now() < deadline; round++) {
        const outcome = await once(client, round).catch((error: Error) => `error: ${error.message.slice(0, 60)}`);
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      }
    }),
  );
  return { perSecond: (counts.get('ok') ?? 0) / ((Date.now() - started) / 1000), counts: Object.fromEntries(counts) };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
function request(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: PORT, method, path, agent, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function startServer() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      JWT_SECRET: 'bench-only-secret-bench-only-secret-0123456789',
      DATABASE_URL: dbUrl,
      REDIS_URL,
      REDIS_KEY_PREFIX: `${PREFIX}http:`,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SEED_DEMO_DATA: 'false',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    const up = await request('GET', '/health/live', undefined).catch(() => undefined);
    if (up?.status === 200) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error('server did not start');
}

async function signIn(): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const username = `cartbench${i}`;
    const password = `bench-password-${i}-long-enough`;
    const reg = await request('POST', '/api/identity/register/', { username, email: `${username}@example.com`, password });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.body}`);
    const login = await request('POST', '/api/identity/token/', { username, password }, { 'x-forwarded-for': `10.0.0.${i}` });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.body}`);
    tokens.push(`Bearer ${JSON.parse(login.body).access}`);
  }
  return tokens;
}

/** Client c's cart: its own 5 products (spread), or the hot product for every line change. */
type Scenario = { name: string; product: (client: number, round: number) => string };

async function main() {
  await admin(`drop database if exists ${DB_NAME} with (force)`);
  await admin(`create database ${DB_NAME}`);
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
  const results: Array<{ scenario: string; mode: string; perSecond: number; counts: Record<string, number> }> = [];
  const server = await startServer();
  try {
    const tokens = await signIn();
    const overHttp = (s: Scenario, seconds: number) =>
      drive(seconds, async (c, r) => {
        const res = await request('PUT', `/api/cart/items/${s.product(c, r)}/`, { quantity: quantity(r) }, { authorization: tokens[c]! });
        return res.status === 200 ? 'ok' : `http ${res.status}`;
      });
    const bare = (s: Scenario, seconds: number) =>
      drive(seconds, async (c, r) => {
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
    server.kill('SIGTERM');
    agent.destroy();
    await new Promise((r) => server.once('exit', r));
    await admin(`drop database if exists ${DB_NAME} with (force)`);
    const cleaner = createRedisClient(REDIS_URL, '');
    await waitForRedis(cleaner);
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
      if (keys.length > 0) await cleaner.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    cleaner.disconnect();
    redis.disconnect();
  }
  const ceiling = (scenario: string) => results.find((r) => r.scenario === scenario && r.mode === 'bare Lua')!.perSecond;
  console.log(`\nholds/s, ${CLIENTS} concurrent clients, ${SECONDS} s per run\n`);
  console.log('| scenario | mode | holds/s | ratio to bare | outcomes |');
  console.log('|---|---|---:|---:|---|');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.mode} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / ceiling(r.scenario)).toFixed(2)} | ${JSON.stringify(r.counts)} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
