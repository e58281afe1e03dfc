/**
 * Orders per second, spread over 500 products and on one hot product, at 32 and 256 connections:
 * the real server (src/server.ts, production mode, real PostgreSQL + Redis) in a child process,
 * loaded by `wrk` (POST /api/orders/orders/, a Bearer token and a unique Idempotency-Key on every
 * request, one line of one unit), beside two ceilings run by `pgbench -M prepared` with as many
 * clients, in the same run:
 *  - per-order.sql: one order per transaction, the least SQL that design needs;
 *  - batch.sql: BENCH_BATCH (100) orders per transaction, the batching writer's statements, with
 *    as many clients, and with one client (the service's single writer) at min(connections, 200).
 * CPU per order (server, PostgreSQL, Redis) and the machine's busy share are read over each run.
 * Then a CPU profile of the server at spread / 32 (`node --cpu-prof`), summarised.
 *
 *   npm run bench:orders     (BENCH_SECONDS=10, BENCH_ROUNDS=1, BENCH_BATCH=100, BENCH_PROFILE=1)
 *
 * With several rounds every round runs the whole grid again; the targets are judged on the
 * median of the rounds' ratios (each ratio taken within its round).
 *
 * PostgreSQL: a private instance of the machine's server (bench/tools.ts: the shared one allows
 * 100 connections), or BENCH_DATABASE_URL (a maintenance database; a database opply_bench_orders
 * is made there and dropped). Redis: BENCH_REDIS_URL (default the local one) under a key prefix
 * of the run's own, deleted at the end. Needs pgbench (postgresql-client) and wrk.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { createDatabase, sql } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { admin, databaseUrl, httpClient, signIn, startServer, stopServer } from '../lib.ts';
import { monotonicUs, printProfile, summariseProfile } from '../profile.ts';
import { luaStrings, machine, metered, pgbench, redisCpuOf, startBenchPostgres, wrk, type BenchPostgres, type CpuShare, type Probes } from '../tools.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const PROFILE = process.env.BENCH_PROFILE !== '0';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = [32, 256];
const SPREAD = 500;
const CUSTOMERS = 64;
/** ORDERS_BATCH_MAX's default: the most orders the service's writer puts in one transaction. */
const WRITER_BATCH_MAX = 200;
const PORT = 18_000 + Math.floor(Math.random() * 1000);
const PREFIX = `bench:orders:${randomUUID()}:`;
const DB_NAME = 'opply_bench_orders';
const here = path.dirname(new URL(import.meta.url).pathname);

/** Product n of the seeded catalog; the pgbench scripts build the same ids. */
const productId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const SCENARIOS = [
  { name: `spread (${SPREAD} products)`, products: SPREAD },
  { name: 'hot (1 product)', products: 1 },
] as const;

interface Row {
  round: number;
  connections: number;
  scenario: string;
  what: 'per-order SQL' | 'batched SQL' | 'one-writer SQL' | 'service';
  perSecond: number;
  p50?: number;
  p99?: number;
  latencyAvg?: number;
  answers: string;
  /** Service rows: answers by HTTP status. */
  statuses?: Record<string, number>;
  /** Service rows: database commits per order written (below 1: orders shared transactions). */
  commitsPerOrder?: number;
  cpu: CpuShare;
}

async function seed(url: string) {
  const db = await createDatabase({ url, poolMax: 2 });
  await migrate(db);
  await db.primary.execute(
    sql`insert into catalog.products (id, name, price_cents, stock)
        select ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'Product ' || i, 100 + i, 1000000000
        from generate_series(1, ${SPREAD}) as i`,
  );
  await db.primary.execute(sql`vacuum analyze catalog.products`);
  await db.close();
}

const commits = async (url: string) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('select xact_commit as n from pg_stat_database where datname = current_database()');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
};

/** wrk's request function: a rotating customer, a random product of the scenario, a fresh key. */
const orderLua = (tokens: string[], products: number) => `
local tokens = ${luaStrings(tokens)}
local products = ${luaStrings(Array.from({ length: products }, (_, i) => productId(i + 1)))}
local prefix = "${randomUUID()}-"
local n = 0
request = function()
  n = n + 1
  local body = '{"order_items":[{"product":"' .. products[math.random(#products)] .. '","quantity":1}]}'
  return wrk.format("POST", "/api/orders/orders/", {
    ["Content-Type"] = "application/json", ["Authorization"] = tokens[(n % #tokens) + 1], ["Idempotency-Key"] = prefix .. n }, body)
end`;

const answers = (statuses: Record<string, number>, errors: number) =>
  Object.entries(statuses)
    .map(([s, n]) => `${s}: ${n}`)
    .concat(errors > 0 ? [`socket errors: ${errors}`] : [])
    .join(', ');

async function measure(dbUrl: string, tokens: string[], probes: Probes, rows: Row[], round: number) {
  const serviceUrl = `http://127.0.0.1:${PORT}/`;
  const script = (name: string) => path.join(here, name);
  // Warm-up (JIT, plans, pools, the hold store's mirrors), not counted.
  if (round === 1) await pgbench(dbUrl, { script: script('per-order.sql'), clients: 32, seconds: 2, vars: { products: SPREAD } });
  if (round === 1) await pgbench(dbUrl, { script: script('batch.sql'), clients: 32, seconds: 2, vars: { products: SPREAD, batch: BATCH } });
  if (round === 1) await wrk({ url: serviceUrl, lua: orderLua(tokens, SPREAD), connections: 32, seconds: 3 });
  // Per connection count and scenario all back to back, so they share the machine's background load.
  for (const connections of CONNECTIONS) {
    for (const s of SCENARIOS) {
      const base = { round, connections, scenario: s.name };
      const sqlRun = async (what: Row['what'], file: string, clients: number, batch: number) => {
        const { result: r, cpu } = await metered(probes, async () => {
          const result = await pgbench(dbUrl, { script: script(file), clients, seconds: SECONDS, vars: { products: s.products, batch } });
          return { count: result.transactions * batch, result };
        });
        const unit = batch === 1 ? '' : ` of ${batch}`;
        rows.push({ ...base, what, perSecond: r.tps * batch, latencyAvg: r.latencyMs, answers: `${r.transactions} commits${unit}, ${r.failed} failed${clients === 1 ? ', 1 client' : ''}`, cpu });
      };
      await sqlRun('per-order SQL', 'per-order.sql', connections, 1);
      await sqlRun('batched SQL', 'batch.sql', connections, BATCH);
      // The service has one writer per process: one client, batches as large as the load allows it.
      await sqlRun('one-writer SQL', 'batch.sql', 1, Math.min(connections, WRITER_BATCH_MAX));
      const before = await commits(dbUrl);
      const { result: r, cpu } = await metered(probes, async () => {
        const result = await wrk({ url: serviceUrl, lua: orderLua(tokens, s.products), connections, seconds: SECONDS });
        return { count: result.statuses['201'] ?? 0, result };
      });
      const written = r.statuses['201'] ?? 0;
      rows.push({
        ...base,
        what: 'service',
        perSecond: written / (r.requests / r.perSecond),
        p50: r.p50,
        p99: r.p99,
        answers: answers(r.statuses, r.errors),
        statuses: { ...r.statuses, ...(r.errors > 0 ? { 'socket errors': r.errors } : {}) },
        commitsPerOrder: ((await commits(dbUrl)) - before) / Math.max(1, written),
        cpu,
      });
      const got = (w: Row['what']) => rows.find((x) => x.round === round && x.connections === connections && x.scenario === s.name && x.what === w)!.perSecond.toFixed(0);
      console.log(`  round ${round}, ${connections} ${s.name}: per-order ${got('per-order SQL')}/s, batched ${got('batched SQL')}/s, one writer ${got('one-writer SQL')}/s, service ${got('service')}/s`);
    }
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function printTable(rows: Row[]) {
  const rounds = Math.max(...rows.map((r) => r.round));
  const find = (round: number, c: number, s: string, w: Row['what']) => rows.find((r) => r.round === round && r.connections === c && r.scenario === s && r.what === w)!;
  console.log('\n| round | connections | scenario | what | orders/s | p50 ms | p99 ms | vs per-order SQL | vs batched SQL | CPU µs/order: server / PostgreSQL / Redis | machine busy | answers | db commits per order |');
  console.log('|---:|---:|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|');
  const ms = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
  const us = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(0));
  for (const r of rows) {
    const ratio = (w: Row['what']) => (r.what === w ? '1.00' : (r.perSecond / find(r.round, r.connections, r.scenario, w).perSecond).toFixed(2));
    const latency = r.latencyAvg === undefined ? [ms(r.p50), ms(r.p99)] : [`avg ${r.latencyAvg.toFixed(1)}`, '–'];
    console.log(
      `| ${r.round} | ${r.connections} | ${r.scenario} | ${r.what} | ${r.perSecond.toFixed(0)} | ${latency.join(' | ')} | ${ratio('per-order SQL')} | ${ratio('batched SQL')} | ${us(r.cpu.server)} / ${us(r.cpu.postgres)} / ${us(r.cpu.redis)} | ${(r.cpu.machineBusy * 100).toFixed(0)} % | ${r.answers} | ${r.commitsPerOrder?.toFixed(3) ?? '–'} |`,
    );
  }
  const [spread, hot] = [SCENARIOS[0].name, SCENARIOS[1].name];
  const perRound = (f: (round: number) => number) => Array.from({ length: rounds }, (_, i) => f(i + 1));
  const svc = (round: number, c: number, s: string) => find(round, c, s, 'service');
  /** A target row: every round's figure, and the verdict on their median. */
  const target = (name: string, figures: number[], ok: (median: number) => boolean, unit: string) => {
    const m = median(figures);
    const each = figures.map((f) => f.toFixed(unit === ' ms' ? 1 : 2)).join(', ');
    console.log(`| ${name} | ${m.toFixed(unit === ' ms' ? 1 : 2)}${unit}${rounds > 1 ? ` (rounds: ${each})` : ''} | ${ok(m) ? 'met' : 'missed'} |`);
  };
  console.log(`\n| target | median of ${rounds} round(s) | verdict |\n|---|---|---|`);
  for (const c of CONNECTIONS) {
    target(`spread ≥ 1.0× per-order SQL, ${c}`, perRound((i) => svc(i, c, spread).perSecond / find(i, c, spread, 'per-order SQL').perSecond), (m) => m >= 1, '×');
    target(`hot ≥ 3× per-order SQL on that row, ${c}`, perRound((i) => svc(i, c, hot).perSecond / find(i, c, hot, 'per-order SQL').perSecond), (m) => m >= 3, '×');
  }
  for (const s of [spread, hot]) {
    target(`p99 ≤ 100 ms at 32, ${s}`, perRound((i) => svc(i, 32, s).p99!), (m) => m <= 100, ' ms');
    target(`256 within 20 % of 32, ${s}`, perRound((i) => svc(i, 256, s).perSecond / svc(i, 32, s).perSecond), (m) => m >= 0.8, '×');
  }
  const badAnswers = rows.flatMap((r) => Object.keys(r.statuses ?? {}).filter((st) => st !== '201'));
  console.log(`| only 201 (no shortage in this bench) | ${badAnswers.length === 0 ? 'only 201' : `also ${[...new Set(badAnswers)].join(', ')}`} | ${badAnswers.length === 0 ? 'met' : 'missed'} |`);
}

/** The writer's batches in the window, from its debug lines ('order batch written': orders, ms). */
function printBatches(log: string, from: number, to: number) {
  const batches = readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.includes('order batch written'))
    .map((line) => JSON.parse(line) as { time: number; orders: number; ms: number })
    .filter((b) => b.time >= from && b.time <= to);
  if (batches.length === 0) return;
  const pct = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
  const sizes = batches.map((b) => b.orders);
  const ms = batches.map((b) => b.ms);
  const seconds = (to - from) / 1000;
  console.log(
    `writer batches: ${(batches.length / seconds).toFixed(0)}/s, orders per batch mean ${(sizes.reduce((a, b) => a + b, 0) / batches.length).toFixed(1)} ` +
      `(p50 ${pct(sizes, 0.5)}, max ${Math.max(...sizes)}), batch time p50 ${pct(ms, 0.5)} ms, p99 ${pct(ms, 0.99)} ms, ` +
      `writer busy ${((ms.reduce((a, b) => a + b, 0) / (to - from)) * 100).toFixed(0)} % of the window`,
  );
}

/** The server again with --cpu-prof, loaded at spread / 32 for BENCH_SECONDS; the profile summarised. */
async function profile(dbUrl: string, env: Record<string, string>, tokens: string[], request: Parameters<typeof startServer>[0]['request']) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-orders-prof-'));
  const log = path.join(dir, 'server.log');
  const server = await startServer({
    port: PORT,
    databaseUrl: dbUrl,
    env: { ...env, LOG_LEVEL: 'debug' },
    request,
    stdoutFile: log,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
  });
  const window = { from: 0, to: 0, wallFrom: 0, wallTo: 0 };
  try {
    await wrk({ url: `http://127.0.0.1:${PORT}/`, lua: orderLua(tokens, SPREAD), connections: 32, seconds: 3 });
    window.from = monotonicUs();
    window.wallFrom = Date.now();
    const r = await wrk({ url: `http://127.0.0.1:${PORT}/`, lua: orderLua(tokens, SPREAD), connections: 32, seconds: SECONDS });
    window.to = monotonicUs();
    window.wallTo = Date.now();
    console.log(`\nprofiled run (spread, 32): ${r.perSecond.toFixed(0)} requests/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${answers(r.statuses, r.errors)}`);
  } finally {
    await stopServer(server);
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the server wrote no CPU profile');
  printBatches(log, window.wallFrom, window.wallTo);
  printProfile(summariseProfile(path.join(dir, file), 30, window));
  if (process.env.BENCH_KEEP_PROFILE) console.log(`profile kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

async function main() {
  const startedAt = new Date().toISOString();
  const machineBefore = machine();
  let own: BenchPostgres | undefined;
  const adminUrl = process.env.BENCH_DATABASE_URL ?? (own = await startBenchPostgres(CONNECTIONS.at(-1)! + 60)).url;
  const dbUrl = databaseUrl(adminUrl, DB_NAME);
  await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`);
  await admin(adminUrl, `create database ${DB_NAME}`);
  const rows: Row[] = [];
  const { request, close } = httpClient(PORT, 4);
  const env = { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, LOG_LEVEL: 'info', ACCESS_TOKEN_TTL_SECONDS: '7200' };
  let server: ChildProcess | undefined;
  try {
    await seed(dbUrl);
    server = await startServer({ port: PORT, databaseUrl: dbUrl, env, request, quietStdout: true });
    const tokens = await signIn(request, { count: CUSTOMERS, usernamePrefix: 'ordersbench', loginHeaders: (i) => ({ 'x-forwarded-for': `10.0.1.${i}` }) });
    const redis = createRedisClient(REDIS_URL, '');
    try {
      const probes = { serverPid: server.pid, postgresCpu: own ? () => own!.cpu() : undefined, redisCpu: redisCpuOf(redis) };
      for (let round = 1; round <= ROUNDS; round++) await measure(dbUrl, tokens, probes, rows, round);
    } finally {
      redis.disconnect();
    }
    await stopServer(server);
    server = undefined;
    console.log(`\norders bench, ${startedAt}: ${machineBefore} at start, ${machine()} at end; node ${process.version}; ${SECONDS} s per run, batch ${BATCH}`);
    console.log(`PostgreSQL: ${own ? `private instance, ${own.settings}` : adminUrl}; server: src/server.ts, NODE_ENV=production, LOG_LEVEL=info, DATABASE_POOL_MAX=20`);
    printTable(rows);
    if (PROFILE) await profile(dbUrl, env, tokens, request);
  } finally {
    close();
    if (server) await stopServer(server);
    await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
    await deleteKeysWithPrefix(REDIS_URL, PREFIX);
    own?.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
