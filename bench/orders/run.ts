/**
 * Orders per second, spread over 500 products and on one hot product, at 32 and 256 connections:
 * the real server (src/server.ts, production mode, real PostgreSQL + Redis) in a child process,
 * loaded by `wrk` (POST /api/orders/orders/, a Bearer token and a unique Idempotency-Key on every
 * request, one line of one unit), beside two ceilings run by `pgbench -M prepared` with as many
 * clients, in the same run:
 *  - per-order.sql: one order per transaction, the least SQL that design needs;
 *  - batch.sql: BENCH_BATCH (100) orders per transaction, the batching writer's statements, with
 *    as many clients, and with one client (the service's single writer) at min(connections, 200).
 * On the hot product, right after the sync service, the same load on flash-sale mode
 * (ORDERS_MODE=async): a second server child on a private durable Redis (appendonly yes,
 * appendfsync always: what the mode requires) and a `src/worker.ts` child writing what it
 * accepts (one per async run, so its outbox relay never runs beside the sync rows; the sync rows'
 * outbox records are marked published first). Counted: 202 answers per second; then the run drains (every accepted order written),
 * and from the database each order's time from acceptance (orders.created_at, fixed at admission)
 * to its commit (pg_xact_commit_timestamp), p50/p99; stock checked exact.
 * CPU per order (server, PostgreSQL, Redis) and the machine's busy share are read over each run.
 * Then CPU profiles (`node --cpu-prof`): the sync server at spread / 32, and the flash-sale API
 * server and its worker on the hot product at 32; each summarised and drawn as a flame graph
 * (bench/flame.ts: folded stacks and SVG, in BENCH_PROFILE_DIR when set).
 *
 *   npm run bench:orders     (BENCH_SECONDS=10, BENCH_ROUNDS=1, BENCH_BATCH=100, BENCH_PROFILE=1)
 *   npm run bench:orders -- --only hot-async   (the hot product only: per-order SQL, sync, async; no profile)
 *   npm run bench:orders -- --only profile     (the profiles only, ~2 minutes)
 *   BENCH_ORDER_MAILS=false npm run bench:orders   (ORDER_MAILS=false: no order mails queued or sent;
 *                                     the same work as a build without order mails, for comparisons)
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
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { productKeys } from '../../src/modules/inventory/holds-redis.ts';
import { STREAM } from '../../src/modules/orders/flash-sale/stream.ts';
import { createDatabase, sql } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix, type RedisClient } from '../../src/platform/kv.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { startPrivateRedis, type PrivateRedis } from '../../test/helpers/private-services.ts';
import { admin, query, cpuOf, databaseUrl, httpClient, signIn, startServer, startSmtpSink, startWorker, stopServer } from '../lib.ts';
import { writeFlame } from '../flame.ts';
import { monotonicUs, printProfile, summariseProfile } from '../profile.ts';
import { luaStrings, machine, metered, pgbench, redisCpuOf, startBenchPostgres, wrk, type BenchPostgres, type CpuShare, type Probes, type WrkResult } from '../tools.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const PROFILE = process.env.BENCH_PROFILE !== '0';
const ORDER_MAILS = process.env.BENCH_ORDER_MAILS ?? 'true';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = [32, 256];
const SPREAD = 500;
const CUSTOMERS = 64;
/** ORDERS_BATCH_MAX's default: the most orders the service's writer puts in one transaction. */
const WRITER_BATCH_MAX = 200;
const PORT = 18_000 + Math.floor(Math.random() * 1000);
/** The flash-sale-mode server's port. */
const ASYNC_PORT = PORT + 1000;
const STOCKED = 1_000_000_000;
/** `--only hot-async`: the hot product only (per-order SQL, sync and async service), no profile; `--only profile`: the profiles alone. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (ONLY !== undefined && ONLY !== 'hot-async' && ONLY !== 'profile') throw new Error(`--only takes hot-async or profile (got ${ONLY})`);
/** How long the accepted orders of a run may take to be written before the run counts as not drained. */
const DRAIN_TIMEOUT_MS = 120_000;
/** No order admitted for this long after the load: the requests in flight when wrk stopped are done. */
const QUIET_MS = 2000;
const PREFIX = `bench:orders:${randomUUID()}:`;
const DB_NAME = 'opply_bench_orders';
const here = path.dirname(new URL(import.meta.url).pathname);

/** Product n of the seeded catalog; the pgbench scripts build the same ids. */
const productId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const SCENARIOS = [
  { name: `spread (${SPREAD} products)`, products: SPREAD },
  { name: 'hot (1 product)', products: 1 },
] as const;
const RUN_SCENARIOS = ONLY === 'hot-async' ? SCENARIOS.filter((s) => s.products === 1) : SCENARIOS;
const HOT = productId(1);

interface Row {
  round: number;
  connections: number;
  scenario: string;
  what: 'per-order SQL' | 'batched SQL' | 'one-writer SQL' | 'service' | 'async service';
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
  /** Async service rows: what became of the accepted orders. */
  async?: AsyncFigures;
}

interface AsyncFigures {
  accepted: number;
  /** Orders Redis accepted in the run (stream entries added): the 202s and the requests in flight at the end. */
  admitted: number;
  /** The worker's share of the server CPU column, µs per admitted order. */
  workerCpu: number;
  /** order.confirmed outbox records the worker's relay published during the run and its drain. */
  relayed: number;
  /** Orders of the run in the database after the drain, by status. */
  written: Record<string, number>;
  /** Acceptance → commit, ms, over every order the run accepted. */
  confirmP50: number;
  confirmP99: number;
  confirmMax: number;
  /** From the end of the load until the stream was empty (every accepted order written and settled). */
  drainSeconds: number;
  /** Every 202 written confirmed, none left pending or cancelled, stocked = stock + confirmed units, mirror's accepted count 0. */
  exact: boolean;
  ledger: string;
}

/** Flash-sale mode's side of the bench: its server, its durable Redis, what starts its worker. */
interface AsyncSide {
  url: string;
  redis: RedisClient;
  probes: Probes;
  startWorker: () => Promise<ChildProcess>;
  /** Commit times recorded (track_commit_timestamp): true on the bench's own PostgreSQL. */
  commitTimes: boolean;
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

const commits = async (url: string) => Number((await query<{ n: string }>(url, 'select xact_commit as n from pg_stat_database where datname = current_database()'))[0]!.n);

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

/** A service row from its wrk run: `counted` (the 201s, or the 202s) per second of the run. */
const serviceRow = (base: Pick<Row, 'round' | 'connections' | 'scenario'>, what: Row['what'], r: WrkResult, counted: number, commitsInRun: number, cpu: CpuShare): Row => ({
  ...base,
  what,
  perSecond: counted / (r.requests / r.perSecond),
  p50: r.p50,
  p99: r.p99,
  answers: answers(r.statuses, r.errors),
  statuses: { ...r.statuses, ...(r.errors > 0 ? { 'socket errors': r.errors } : {}) },
  commitsPerOrder: commitsInRun / Math.max(1, counted),
  cpu,
});

/** XADDs to the accepted-order stream ever (XINFO STREAM entries-added): how many orders Redis accepted. */
async function entriesAdded(redis: RedisClient): Promise<number> {
  const info = (await redis.call('XINFO', 'STREAM', STREAM)) as Array<string | number>;
  return Number(info[info.indexOf('entries-added') + 1]);
}

/**
 * Waits until the run is over in Redis: the stream empty (every accepted order written and
 * settled) and no order added for QUIET_MS — wrk stops with requests in flight, which the server
 * still admits after it has gone. Returns the seconds until the stream was last found empty, or Infinity.
 */
async function drain(redis: RedisClient): Promise<number> {
  const started = Date.now();
  let added = await entriesAdded(redis);
  let changed = started;
  let emptySince: number | undefined;
  while (Date.now() - started < DRAIN_TIMEOUT_MS) {
    const [now, depth] = [await entriesAdded(redis), await redis.xlen(STREAM)];
    if (now !== added) [added, changed, emptySince] = [now, Date.now(), undefined];
    if (depth > 0) emptySince = undefined;
    else emptySince ??= Date.now();
    if (emptySince !== undefined && Date.now() - changed >= QUIET_MS) return (emptySince - started) / 1000;
    await new Promise((r) => setTimeout(r, 25));
  }
  return Infinity;
}

/**
 * One async run on the hot product: a fresh worker (so no job of it runs beside the sync rows),
 * a short warm-up, the load, the drain; then from the database what became of every order the run
 * accepted, its acceptance → commit time, and the hot product's ledger.
 */
async function asyncRun(dbUrl: string, tokens: string[], side: AsyncSide, base: Pick<Row, 'round' | 'connections' | 'scenario'>): Promise<Row> {
  // The sync rows' outbox records: marked published, so the worker's relay carries this run's only;
  // then vacuumed, so neither the relay's partial index scan nor an autovacuum pays for that here.
  const markRelayed = async () => {
    await query(dbUrl, 'update orders.outbox set published_at = now() where published_at is null');
    await query(dbUrl, 'vacuum (analyze) orders.outbox');
  };
  await markRelayed();
  const worker = await side.startWorker();
  let row: Row;
  try {
    // Each wrk run its own script: its Idempotency-Keys are fresh (a key used again would be a replay).
    await wrk({ url: side.url, lua: orderLua(tokens, 1), connections: base.connections, seconds: 2 });
    await drain(side.redis);
    await markRelayed();
    const before = await commits(dbUrl);
    const addedBefore = await entriesAdded(side.redis);
    const workerBefore = cpuOf(worker.pid);
    const from = new Date();
    let drainSeconds = 0;
    const { result: r, cpu } = await metered({ ...side.probes, extraPids: [worker.pid] }, async () => {
      const result = await wrk({ url: side.url, lua: orderLua(tokens, 1), connections: base.connections, seconds: SECONDS });
      drainSeconds = await drain(side.redis);
      return { count: result.statuses['202'] ?? 0, result };
    });
    const to = new Date();
    const workerCpu = cpuOf(worker.pid);
    const accepted = r.statuses['202'] ?? 0;
    const written = await commits(dbUrl);
    // Orders Redis accepted in the run: the 202s wrk counted, and those of the requests still in
    // flight when it stopped (at most one a connection), whose answers it does not count.
    const admitted = (await entriesAdded(side.redis)) - addedBefore;
    const [relay] = await query<{ n: number }>(dbUrl, "select count(*)::int as n from orders.outbox where topic = 'order.confirmed' and published_at >= $1", [from]);
    // created_at is the acceptance time (the worker writes the order with it); the commit time is
    // the transaction's own (track_commit_timestamp), else the write transaction's start (updated_at).
    const committed = side.commitTimes ? 'pg_xact_commit_timestamp(xmin)' : 'updated_at';
    const [f] = await query<{ by_status: Record<string, number> | null; p50: number | null; p99: number | null; max: number | null }>(
      dbUrl,
      `with w as (select status, extract(epoch from ${committed} - created_at) * 1000 as ms from orders.orders where created_at >= $1 and created_at <= $2)
       select (select jsonb_object_agg(status, n) from (select status, count(*)::int as n from w group by status) s) as by_status,
              percentile_cont(0.5) within group (order by ms) filter (where status = 'confirmed') as p50,
              percentile_cont(0.99) within group (order by ms) filter (where status = 'confirmed') as p99,
              max(ms) filter (where status = 'confirmed') as max
       from w`,
      [from, to],
    );
    const [l] = await query<{ stock: string; confirmed: string; other: string }>(
      dbUrl,
      `select p.stock, coalesce(sum(l.quantity) filter (where o.status = 'confirmed'), 0) as confirmed,
              count(o.id) filter (where o.status not in ('confirmed')) as other
       from catalog.products p left join orders.order_lines l on l.product_id = p.id left join orders.orders o on o.id = l.order_id
       where p.id = $1 group by p.stock`,
      [HOT],
    );
    const inFlight = Number((await side.redis.hget(productKeys(HOT)[0]!, 'a')) ?? 0);
    const byStatus = f!.by_status ?? {};
    const stock = Number(l!.stock);
    const confirmedUnits = Number(l!.confirmed);
    const allWritten = byStatus.confirmed === admitted && admitted >= accepted && admitted <= accepted + base.connections + r.errors;
    const exact = allWritten && Object.keys(byStatus).every((st) => st === 'confirmed') && stock + confirmedUnits === STOCKED && Number(l!.other) === 0 && inFlight === 0;
    row = {
      ...serviceRow(base, 'async service', r, accepted, written - before, cpu),
      async: {
        accepted,
        admitted,
        workerCpu: workerBefore === undefined || workerCpu === undefined ? NaN : ((workerCpu - workerBefore) * 1e6) / Math.max(1, admitted),
        relayed: relay!.n,
        written: byStatus,
        confirmP50: f!.p50 ?? NaN,
        confirmP99: f!.p99 ?? NaN,
        confirmMax: f!.max ?? NaN,
        drainSeconds,
        exact,
        ledger: `stocked ${STOCKED} = stock ${stock} + confirmed units ${confirmedUnits}${stock + confirmedUnits === STOCKED ? '' : ' (NOT)'}; other orders ${l!.other}; mirror in flight ${inFlight}`,
      },
    };
  } finally {
    await stopServer(worker);
  }
  return row;
}

async function measure(dbUrl: string, tokens: string[], probes: Probes, rows: Row[], round: number, side: AsyncSide | undefined) {
  const serviceUrl = `http://127.0.0.1:${PORT}/`;
  const script = (name: string) => path.join(here, name);
  // Warm-up (JIT, plans, pools, the hold store's mirrors), not counted.
  if (round === 1) await pgbench(dbUrl, { script: script('per-order.sql'), clients: 32, seconds: 2, vars: { products: SPREAD } });
  if (round === 1) await pgbench(dbUrl, { script: script('batch.sql'), clients: 32, seconds: 2, vars: { products: SPREAD, batch: BATCH } });
  if (round === 1) await wrk({ url: serviceUrl, lua: orderLua(tokens, RUN_SCENARIOS[0]!.products), connections: 32, seconds: 3 });
  // Per connection count and scenario all back to back, so they share the machine's background load.
  for (const connections of CONNECTIONS) {
    for (const s of RUN_SCENARIOS) {
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
      if (ONLY !== 'hot-async') {
        await sqlRun('batched SQL', 'batch.sql', connections, BATCH);
        // The service has one writer per process: one client, batches as large as the load allows it.
        await sqlRun('one-writer SQL', 'batch.sql', 1, Math.min(connections, WRITER_BATCH_MAX));
      }
      const before = await commits(dbUrl);
      const { result: r, cpu } = await metered(probes, async () => {
        const result = await wrk({ url: serviceUrl, lua: orderLua(tokens, s.products), connections, seconds: SECONDS });
        return { count: result.statuses['201'] ?? 0, result };
      });
      rows.push(serviceRow(base, 'service', r, r.statuses['201'] ?? 0, (await commits(dbUrl)) - before, cpu));
      if (side && s.products === 1) rows.push(await asyncRun(dbUrl, tokens, side, base));
      const got = (w: Row['what']) => rows.find((x) => x.round === round && x.connections === connections && x.scenario === s.name && x.what === w)?.perSecond.toFixed(0) ?? '–';
      const a = rows.find((x) => x.round === round && x.connections === connections && x.scenario === s.name && x.what === 'async service')?.async;
      const asyncPart = a ? `, async ${got('async service')}/s accepted (confirm p99 ${a.confirmP99.toFixed(0)} ms, drain ${a.drainSeconds.toFixed(1)} s, ${a.exact ? 'exact' : 'NOT EXACT'})` : '';
      console.log(`  round ${round}, ${connections} ${s.name}: per-order ${got('per-order SQL')}/s, batched ${got('batched SQL')}/s, one writer ${got('one-writer SQL')}/s, service ${got('service')}/s${asyncPart}`);
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
  const has = (w: Row['what']) => rows.some((r) => r.what === w);
  console.log('\n| round | connections | scenario | what | orders/s | p50 ms | p99 ms | vs per-order SQL | vs batched SQL | CPU µs/order: server / PostgreSQL / Redis | machine busy | answers | db commits per order |');
  console.log('|---:|---:|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|');
  const ms = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
  const us = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(0));
  for (const r of rows) {
    const ratio = (w: Row['what']) => (r.what === w ? '1.00' : has(w) ? (r.perSecond / find(r.round, r.connections, r.scenario, w).perSecond).toFixed(2) : '–');
    const latency = r.latencyAvg === undefined ? [ms(r.p50), ms(r.p99)] : [`avg ${r.latencyAvg.toFixed(1)}`, '–'];
    console.log(
      `| ${r.round} | ${r.connections} | ${r.scenario} | ${r.what} | ${r.perSecond.toFixed(0)} | ${latency.join(' | ')} | ${ratio('per-order SQL')} | ${ratio('batched SQL')} | ${us(r.cpu.server)} / ${us(r.cpu.postgres)} / ${us(r.cpu.redis)} | ${(r.cpu.machineBusy * 100).toFixed(0)} % | ${r.answers} | ${r.commitsPerOrder?.toFixed(3) ?? '–'} |`,
    );
  }
  const [spread, hot] = [SCENARIOS[0].name, SCENARIOS[1].name];
  const perRound = (f: (round: number) => number) => Array.from({ length: rounds }, (_, i) => f(i + 1));
  const svc = (round: number, c: number, s: string) => find(round, c, s, 'service');
  const asyncRows = rows.filter((r) => r.async);
  if (asyncRows.length > 0) {
    console.log(
      '\nFlash-sale mode (ORDERS_MODE=async) on the hot product: 202s per second against the sync service of the same round and connections; ' +
        'confirm = acceptance (orders.created_at) → commit of the order (pg_xact_commit_timestamp), over every order the run accepted; drain = end of load → stream empty',
    );
    console.log('\n| round | connections | async accepted/s (202) | sync service orders/s | async / sync | 202 p50 / p99 ms | confirm p50 / p99 / max ms | drain s | accepted by Redis (202s + in flight at the end) | written | worker CPU µs/order | relayed | ledger | exact |');
    console.log('|---:|---:|---:|---:|---:|---|---|---:|---:|---|---:|---:|---|---|');
    for (const r of asyncRows) {
      const a = r.async!;
      const sync = svc(r.round, r.connections, r.scenario).perSecond;
      console.log(
        `| ${r.round} | ${r.connections} | ${r.perSecond.toFixed(0)} | ${sync.toFixed(0)} | ${(r.perSecond / sync).toFixed(2)} | ${ms(r.p50)} / ${ms(r.p99)} | ` +
          `${a.confirmP50.toFixed(1)} / ${a.confirmP99.toFixed(1)} / ${a.confirmMax.toFixed(0)} | ${a.drainSeconds.toFixed(2)} | ${a.admitted} | ${Object.entries(a.written).map(([st, n]) => `${st} ${n}`).join(', ')} | ${a.workerCpu.toFixed(0)} | ${a.relayed} | ${a.ledger} | ${a.exact ? 'yes' : '**NO**'} |`,
      );
    }
  }
  /** A target row: every round's figure, and the verdict on their median. */
  const target = (name: string, figures: number[], ok: (median: number) => boolean, unit: string) => {
    const m = median(figures);
    const each = figures.map((f) => f.toFixed(unit === ' ms' ? 1 : 2)).join(', ');
    console.log(`| ${name} | ${m.toFixed(unit === ' ms' ? 1 : 2)}${unit}${rounds > 1 ? ` (rounds: ${each})` : ''} | ${ok(m) ? 'met' : 'missed'} |`);
  };
  console.log(`\n| target | median of ${rounds} round(s) | verdict |\n|---|---|---|`);
  const spreadRun = rows.some((r) => r.scenario === spread);
  for (const c of CONNECTIONS) {
    if (spreadRun) target(`spread ≥ 1.0× per-order SQL, ${c}`, perRound((i) => svc(i, c, spread).perSecond / find(i, c, spread, 'per-order SQL').perSecond), (m) => m >= 1, '×');
    target(`hot ≥ 3× per-order SQL on that row, ${c}`, perRound((i) => svc(i, c, hot).perSecond / find(i, c, hot, 'per-order SQL').perSecond), (m) => m >= 3, '×');
  }
  if (asyncRows.length > 0) {
    for (const c of CONNECTIONS) {
      target(`hot async accepted/s ≥ 1.0× sync service, ${c}`, perRound((i) => find(i, c, hot, 'async service').perSecond / svc(i, c, hot).perSecond), (m) => m >= 1, '×');
      target(`hot async confirm p99 < 1 s at that rate, ${c}`, perRound((i) => find(i, c, hot, 'async service').async!.confirmP99), (m) => m < 1000, ' ms');
    }
    const inexact = asyncRows.filter((r) => !r.async!.exact);
    console.log(`| async: every 202 confirmed, none lost, stock exact (every run) | ${inexact.length === 0 ? 'all runs' : `not in ${inexact.length} run(s)`} | ${inexact.length === 0 ? 'met' : 'missed'} |`);
  }
  for (const s of spreadRun ? [spread, hot] : [hot]) {
    target(`p99 ≤ 100 ms at 32, ${s}`, perRound((i) => svc(i, 32, s).p99!), (m) => m <= 100, ' ms');
    target(`256 within 20 % of 32, ${s}`, perRound((i) => svc(i, 256, s).perSecond / svc(i, 32, s).perSecond), (m) => m >= 0.8, '×');
  }
  const badAnswers = rows.flatMap((r) => Object.keys(r.statuses ?? {}).filter((st) => st !== (r.what === 'async service' ? '202' : '201')));
  console.log(`| only 201 (sync) / 202 (async): no shortage in this bench | ${badAnswers.length === 0 ? 'only those' : `also ${[...new Set(badAnswers)].join(', ')}`} | ${badAnswers.length === 0 ? 'met' : 'missed'} |`);
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

/** What the workers logged at warn or above (a retried write, a failed job), counted by message. */
function printWorkerLogs(dir: string) {
  const counts = new Map<string, number>();
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { level: number | string; msg?: string };
      if (typeof entry.level === 'number' ? entry.level >= 40 : !['info', 'debug', 'trace'].includes(entry.level)) counts.set(entry.msg ?? '?', (counts.get(entry.msg ?? '?') ?? 0) + 1);
    }
  }
  console.log(`\nworker log, warn and above: ${counts.size === 0 ? 'none' : [...counts].map(([m, n]) => `${n} × ${m}`).join('; ')}`);
}

/** Where profiles and flame graphs go: BENCH_PROFILE_DIR (kept), else a temporary folder (BENCH_KEEP_PROFILE keeps it). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;

/** The .cpuprofile process `pid` wrote into `dir` (V8's name for it carries the pid). */
const profileOf = (dir: string, pid: number | undefined) => {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`));
  if (!file) throw new Error(`process ${pid} wrote no CPU profile in ${dir}`);
  return path.join(dir, file);
};

/**
 * The server again with --cpu-prof, loaded at spread / 32 for BENCH_SECONDS (sync), then — with
 * `asyncEnv` — a flash-sale server and its worker, both with --cpu-prof, loaded on the hot product
 * at 32 connections. Each profile is summarised over the measured window (self time by origin and
 * by function), and written as a flame graph (folded stacks and SVG, bench/flame.ts); the CPU
 * µs per order of the profiled run (from /proc, profiler overhead included) is printed beside it.
 */
async function profile(dbUrl: string, env: Record<string, string>, tokens: string[], request: Parameters<typeof startServer>[0]['request'], asyncSide?: { env: Record<string, string>; request: Parameters<typeof startServer>[0]['request']; redis: RedisClient }) {
  const dir = PROFILE_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'bench-orders-prof-'));
  mkdirSync(dir, { recursive: true });
  const log = path.join(dir, 'server.log');
  // One folder per process: V8 names the file itself (time, pid).
  const cpuProf = (name: string) => ['--cpu-prof', '--cpu-prof-dir', path.join(dir, name)];
  const report = (label: string, file: string, window: { from: number; to: number }, name: string) => {
    console.log(`\n#### ${label}`);
    printProfile(summariseProfile(file, 30, window));
    writeFlame(file, path.join(dir, name), `${label} (self time of the measured window; idle left out)`, window);
    console.log(`\nflame graph: ${path.join(dir, name)}.svg, folded stacks ${path.join(dir, name)}.folded`);
  };
  const server = await startServer({ port: PORT, databaseUrl: dbUrl, env: { ...env, LOG_LEVEL: 'debug' }, request, stdoutFile: log, nodeArgs: cpuProf('sync') });
  const window = { from: 0, to: 0, wallFrom: 0, wallTo: 0 };
  let cpuPerOrder = NaN;
  try {
    await wrk({ url: `http://127.0.0.1:${PORT}/`, lua: orderLua(tokens, SPREAD), connections: 32, seconds: 3 });
    const cpuBefore = cpuOf(server.pid)!;
    window.from = monotonicUs();
    window.wallFrom = Date.now();
    const r = await wrk({ url: `http://127.0.0.1:${PORT}/`, lua: orderLua(tokens, SPREAD), connections: 32, seconds: SECONDS });
    window.to = monotonicUs();
    window.wallTo = Date.now();
    cpuPerOrder = ((cpuOf(server.pid)! - cpuBefore) * 1e6) / Math.max(1, r.statuses['201'] ?? 0);
    console.log(`\nprofiled run (sync, spread, 32): ${r.perSecond.toFixed(0)} requests/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${answers(r.statuses, r.errors)}; server CPU ${cpuPerOrder.toFixed(0)} µs/order (profiler on); ${machine()}`);
  } finally {
    await stopServer(server);
  }
  printBatches(log, window.wallFrom, window.wallTo);
  report('sync server, spread, 32 connections', profileOf(path.join(dir, 'sync'), server.pid), window, 'sync-spread-32');

  if (asyncSide) {
    const url = `http://127.0.0.1:${ASYNC_PORT}/`;
    const asyncServer = await startServer({ port: ASYNC_PORT, databaseUrl: dbUrl, env: asyncSide.env, request: asyncSide.request, quietStdout: true, nodeArgs: cpuProf('async-api') });
    const worker = await startWorker({ databaseUrl: dbUrl, env: asyncSide.env, stdoutFile: path.join(dir, 'worker.log'), nodeArgs: cpuProf('async-worker') });
    const w = { from: 0, to: 0 };
    try {
      await wrk({ url, lua: orderLua(tokens, 1), connections: 32, seconds: 3 });
      await drain(asyncSide.redis);
      const [apiBefore, workerBefore] = [cpuOf(asyncServer.pid)!, cpuOf(worker.pid)!];
      w.from = monotonicUs();
      const r = await wrk({ url, lua: orderLua(tokens, 1), connections: 32, seconds: SECONDS });
      await drain(asyncSide.redis);
      w.to = monotonicUs();
      const accepted = Math.max(1, r.statuses['202'] ?? 0);
      const [api, wk] = [((cpuOf(asyncServer.pid)! - apiBefore) * 1e6) / accepted, ((cpuOf(worker.pid)! - workerBefore) * 1e6) / accepted];
      console.log(
        `\nprofiled run (async, hot, 32): ${r.perSecond.toFixed(0)} requests/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${answers(r.statuses, r.errors)}; ` +
          `CPU µs/order API ${api.toFixed(0)} + worker ${wk.toFixed(0)} = ${(api + wk).toFixed(0)} (profiler on; the window includes the drain); ${machine()}`,
      );
    } finally {
      await stopServer(worker);
      await stopServer(asyncServer);
    }
    report('async (flash-sale) API server, hot, 32 connections', profileOf(path.join(dir, 'async-api'), asyncServer.pid), w, 'async-api-hot-32');
    report('async (flash-sale) worker, hot, 32 connections', profileOf(path.join(dir, 'async-worker'), worker.pid), w, 'async-worker-hot-32');
  }
  if (PROFILE_DIR || process.env.BENCH_KEEP_PROFILE) console.log(`\nprofiles kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

async function main() {
  const startedAt = new Date().toISOString();
  const machineBefore = machine();
  let own: BenchPostgres | undefined;
  // 256 pgbench clients, then pools of 20 for each of the two servers and the worker, and slack.
  const adminUrl = process.env.BENCH_DATABASE_URL ?? (own = await startBenchPostgres(CONNECTIONS.at(-1)! + 100)).url;
  const dbUrl = databaseUrl(adminUrl, DB_NAME);
  await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`);
  await admin(adminUrl, `create database ${DB_NAME}`);
  const rows: Row[] = [];
  const { request, close } = httpClient(PORT, 4);
  // Order mails go out as in production, to an SMTP server that accepts them (a refused one made
  // every mail fail and retry: a cheaper, different job).
  const smtp = await startSmtpSink();
  const env = { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, LOG_LEVEL: 'info', ACCESS_TOKEN_TTL_SECONDS: '7200', SMTP_URL: smtp.url, ORDER_MAILS: ORDER_MAILS };
  let server: ChildProcess | undefined;
  // Flash-sale mode: its own server on a private Redis with the durability production requires.
  let durable: PrivateRedis | undefined;
  let asyncServer: ChildProcess | undefined;
  const asyncHttp = httpClient(ASYNC_PORT, 4);
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bench-orders-async-'));
  try {
    await seed(dbUrl);
    server = await startServer({ port: PORT, databaseUrl: dbUrl, env, request, quietStdout: true });
    durable = await startPrivateRedis({ appendonly: true, appendfsync: 'always' });
    const asyncEnv = { REDIS_URL: durable.url, LOG_LEVEL: 'info', ACCESS_TOKEN_TTL_SECONDS: '7200', ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false', SMTP_URL: smtp.url, ORDER_MAILS: ORDER_MAILS };
    asyncServer = await startServer({ port: ASYNC_PORT, databaseUrl: dbUrl, env: asyncEnv, request: asyncHttp.request, quietStdout: true });
    const tokens = await signIn(request, { count: CUSTOMERS, usernamePrefix: 'ordersbench', loginHeaders: (i) => ({ 'x-forwarded-for': `10.0.1.${i}` }) });
    const redis = createRedisClient(REDIS_URL, '');
    const durableRedis = createRedisClient(durable.url, '');
    const commitTimes = (await query<{ on: string }>(dbUrl, "select current_setting('track_commit_timestamp') as on"))[0]!.on === 'on';
    let workers = 0;
    const side: AsyncSide = {
      url: `http://127.0.0.1:${ASYNC_PORT}/`,
      redis: durableRedis,
      probes: { serverPid: asyncServer.pid, postgresCpu: own ? () => own!.cpu() : undefined, redisCpu: redisCpuOf(durableRedis) },
      startWorker: () => startWorker({ databaseUrl: dbUrl, env: asyncEnv, stdoutFile: path.join(logDir, `worker-${++workers}.log`) }),
      commitTimes,
    };
    try {
      const probes = { serverPid: server.pid, postgresCpu: own ? () => own!.cpu() : undefined, redisCpu: redisCpuOf(redis) };
      if (ONLY !== 'profile') for (let round = 1; round <= ROUNDS; round++) await measure(dbUrl, tokens, probes, rows, round, side);
    } finally {
      redis.disconnect();
      durableRedis.disconnect();
    }
    await stopServer(server);
    server = undefined;
    await stopServer(asyncServer);
    asyncServer = undefined;
    console.log(`\norders bench, ${startedAt}: ${machineBefore} at start, ${machine()} at end; node ${process.version}; ${SECONDS} s per run, batch ${BATCH}${ONLY ? `; --only ${ONLY}` : ''}`);
    console.log(`PostgreSQL: ${own ? `private instance, ${own.settings}` : adminUrl}; server: src/server.ts, NODE_ENV=production, LOG_LEVEL=info, DATABASE_POOL_MAX=20`);
    console.log(
      `async: a second src/server.ts with ORDERS_MODE=async, RUN_JOBS_IN_API=false, on a private Redis (appendonly yes, appendfsync always); ` +
        `a src/worker.ts child per run (started before the run's 2 s warm-up, stopped after its drain); confirm times from ${commitTimes ? 'commit timestamps' : 'the write transaction start (updated_at: track_commit_timestamp is off)'}`,
    );
    if (ONLY !== 'profile') printTable(rows);
    if (ONLY !== 'profile') printWorkerLogs(logDir);
    if (PROFILE && ONLY !== 'hot-async') {
      const durableRedis = createRedisClient(durable!.url, '');
      try {
        await profile(dbUrl, env, tokens, request, { env: asyncEnv, request: asyncHttp.request, redis: durableRedis });
      } finally {
        durableRedis.disconnect();
      }
    }
    console.log(`mails: to a local SMTP sink (bench/smtp-sink.ts) that accepts every one; ORDER_MAILS=${ORDER_MAILS}; ${await smtp.stop()} accepted`);
  } finally {
    close();
    asyncHttp.close();
    if (server) await stopServer(server);
    if (asyncServer) await stopServer(asyncServer);
    await durable?.stop();
    await smtp.stop();
    rmSync(logDir, { recursive: true, force: true });
    await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
    await deleteKeysWithPrefix(REDIS_URL, PREFIX);
    own?.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
