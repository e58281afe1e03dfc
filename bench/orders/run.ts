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
import { spawn } from 'node:child_process';
import http from 'node:http';
import pg from 'pg';
import { createDatabase, sql, type Database } from '../../src/platform/db.ts';
import { newId } from '../../src/platform/ids.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { takeStock } from '../../src/modules/catalog/stock.ts';
import { placeInTransaction } from '../../src/modules/orders/place.ts';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'opply_bench_orders';
const CLIENTS = 32;
const PRODUCTS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const PORT = 18_000 + Math.floor(Math.random() * 1000);

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

/** Runs `clients` loops of `once` for `seconds`; counts by outcome. */
async function drive(clients: number, seconds: number, once: (client: number) => Promise<string>) {
  const counts = new Map<string, number>();
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (Date.now() < deadline) {
        const outcome = await once(client).catch((error: Error) => `error: ${error.message.slice(0, 60)}`);
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  return { perSecond: (counts.get('ok') ?? 0) / elapsed, counts: Object.fromEntries(counts) };
}

const pick = (ids: string[]) => ids[Math.floor(Math.random() * ids.length)]!;

/** The same transaction as POST orders/ (placeInTransaction), on a pool of its own, without HTTP. */
async function runBare(seconds: number, ids: () => string) {
  const db = await createDatabase({ url: dbUrl, poolMax: CLIENTS });
  const noop = async () => undefined;
  try {
    return await drive(CLIENTS, seconds, async (client) => {
      await db.primary.transaction((tx) => placeInTransaction(tx, takeStock, CUSTOMERS[client]!, [{ productId: ids(), quantity: 1 }], noop));
      return 'ok';
    });
  } finally {
    await db.close();
  }
}

const CUSTOMERS = Array.from({ length: CLIENTS }, () => newId());
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
      DATABASE_POOL_MAX: String(CLIENTS),
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SEED_DEMO_DATA: 'false',
      EDGE_RATE_LIMIT: 'bench',
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
    const username = `bench${i}`;
    const password = `bench-password-${i}-long-enough`;
    const reg = await request('POST', '/api/identity/register/', { username, email: `${username}@example.com`, password });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.body}`);
    const login = await request('POST', '/api/identity/token/', { username, password });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.body}`);
    tokens.push(`Bearer ${JSON.parse(login.body).access}`);
  }
  return tokens;
}

async function overHttp(tokens: string[], ids: () => string) {
  return drive(CLIENTS, SECONDS, async (client) => {
    const res = await request('POST', '/api/orders/', { order_items: [{ product: ids(), quantity: 1 }] }, { authorization: tokens[client]! });
    return res.status === 201 ? 'ok' : `http ${res.status}`;
  });
}

async function main() {
  await admin(`drop database if exists ${DB_NAME} with (force)`);
  await admin(`create database ${DB_NAME}`);
  const setup = await createDatabase({ url: dbUrl, poolMax: 4 });
  await migrate(setup);
  const { spread, hot } = await seed(setup);
  await setup.close();
  const results: Array<{ scenario: string; mode: string; perSecond: number; counts: Record<string, number> }> = [];
  const server = await startServer();
  try {
    const tokens = await signIn();
    const scenarios = [
      { scenario: 'spread (10,000 products)', ids: () => pick(spread) },
      { scenario: 'hot (1 product)', ids: () => hot },
    ];
    // Warm-up of both paths (JIT, pools, plans), not counted.
    await runBare(2, () => pick(spread));
    await drive(CLIENTS, 2, async (client) => {
      await request('POST', '/api/orders/', { order_items: [{ product: pick(spread), quantity: 1 }] }, { authorization: tokens[client]! });
      return 'ok';
    });
    // Bare and HTTP back to back per scenario, so both see the same background load on a shared machine.
    for (const { scenario, ids } of scenarios) {
      results.push({ scenario, mode: 'bare SQL', ...(await runBare(SECONDS, ids)) });
      results.push({ scenario, mode: 'HTTP', ...(await overHttp(tokens, ids)) });
    }
  } finally {
    server.kill('SIGTERM');
    agent.destroy();
    await new Promise((r) => server.once('exit', r));
    await admin(`drop database if exists ${DB_NAME} with (force)`);
  }
  const ceiling = (scenario: string) => results.find((r) => r.scenario === scenario && r.mode === 'bare SQL')!.perSecond;
  console.log(`\norders/s, ${CLIENTS} concurrent clients, ${SECONDS} s per run\n`);
  console.log('| scenario | mode | orders/s | ratio to bare | outcomes |');
  console.log('|---|---|---:|---:|---|');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.mode} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / ceiling(r.scenario)).toFixed(2)} | ${JSON.stringify(r.counts)} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
