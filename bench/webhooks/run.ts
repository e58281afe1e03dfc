/**
 * Webhook delivery beside orders: the real server (src/server.ts, production mode, real PostgreSQL
 * + Redis, RUN_JOBS_IN_API=false) and the real worker (src/worker.ts: outbox relay and delivery
 * loop) in child processes, a bare node:http receiver in a third (bench/webhooks/receiver.ts), and
 * closed-loop customers placing one-unit orders (spread over 500 products, a fresh
 * Idempotency-Key each) from this process.
 *
 *  - orders/s with 5 subscriptions to `order.created` (all at the receiver) vs none (the same five
 *    disabled), BENCH_ROUNDS (3) alternating rounds (none→five, five→none, …) after a warm-up of
 *    both kinds, each from a vacuumed, checkpointed database (as pgbench starts), judged on the
 *    medians, with the median of each round's five ÷ none beside them; in each "five" round,
 *    events delivered per second while the orders ran, the drain after them, and order commit (pg_xact_commit_timestamp) → arrival at the receiver, p50/p99;
 *    in every round the CPU per order of the server, the worker and (the private instance only)
 *    PostgreSQL, counted until everything drained;
 *  - then the delivery rate alone: the worker stopped while BENCH_SECONDS of orders pile up in the
 *    outbox, started again, and events delivered per second until the backlog is gone.
 *
 *   npm run bench:webhooks     (BENCH_SECONDS=10, BENCH_ROUNDS=3, BENCH_CLIENTS=32)
 *   BENCH_WORKER_CPUS=1 npm run bench:webhooks
 *     the worker and the receiver on CPU 1 only, everything else (this process and its clients,
 *     the server, PostgreSQL, a private Redis) on the other CPUs (`taskset`): as deployed, where
 *     the worker is its own service (infra/) and the receivers are other companies' machines.
 *     Both kinds of round run so, so the comparison is between equals.
 *
 * PostgreSQL: a private instance of the machine's server (bench/tools.ts, track_commit_timestamp
 * on), or BENCH_DATABASE_URL (a maintenance database; opply_bench_webhooks is made there and
 * dropped). Redis: BENCH_REDIS_URL (default the local one) under a key prefix of its own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, sql } from '../../src/platform/db.ts';
import { deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { admin, cpuOf, query, databaseUrl, drive, httpClient, signIn, startServer, startSmtpSink, startWorker, stopServer, type Request } from '../lib.ts';
import { startPrivateRedis } from '../../test/helpers/private-services.ts';
import { machine, startBenchPostgres, type BenchPostgres } from '../tools.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SUBSCRIPTIONS = 5;
const PRODUCTS = 500;
const CUSTOMERS = 64;
const PORT = 19_000 + Math.floor(Math.random() * 1000);
const PREFIX = `bench:webhooks:${randomUUID()}:`;
const DB_NAME = 'opply_bench_webhooks';
const STAFF = { username: 'webhooksbench', password: `bench-${randomUUID()}` };
const DRAIN_TIMEOUT_MS = 180_000;
/** BENCH_WORKER_CPUS: a `taskset` CPU list for the worker and the receiver; the rest get every other CPU. */
const WORKER_CPUS = process.env.BENCH_WORKER_CPUS;

/** `taskset -a -cp`: every thread of `pid` (and what it starts later) onto `cpus`. */
const pin = (pid: number | undefined, cpus: string) => {
  if (pid !== undefined) execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
};

/** The CPUs not in WORKER_CPUS (a list of single CPUs, e.g. "1" or "2,3"). */
function otherCpus(worker: string): string {
  const taken = new Set(worker.split(',').map(Number));
  const rest = os.cpus().map((_, i) => i).filter((i) => !taken.has(i));
  if (rest.length === 0 || taken.size === 0 || [...taken].some((i) => !Number.isInteger(i) || i >= os.cpus().length)) {
    throw new Error(`BENCH_WORKER_CPUS=${worker}: a comma-separated list of CPUs, leaving at least one of the ${os.cpus().length} for the rest`);
  }
  return rest.join(',');
}

const productId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function seed(url: string) {
  const db = await createDatabase({ url, poolMax: 2 });
  await migrate(db);
  await db.primary.execute(
    sql`insert into catalog.products (id, name, price_cents, stock)
        select ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'Product ' || i, 100 + i, 1000000000
        from generate_series(1, ${PRODUCTS}) as i`,
  );
  await db.close();
}

/** The receiver child; resolves with its port. */
function startReceiver(): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(path.dirname(new URL(import.meta.url).pathname), 'receiver.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.stdout!.once('data', (chunk: Buffer) => resolve({ child, port: JSON.parse(chunk.toString().split('\n')[0]!).port }));
  });
}

async function arrivals(port: number, from: number): Promise<{ count: number; arrivals: Array<[string, number]> }> {
  return (await fetch(`http://127.0.0.1:${port}/_arrivals?from=${from}`)).json() as Promise<{ count: number; arrivals: Array<[string, number]> }>;
}

/**
 * Every round starts from the same state, as pgbench vacuums before it runs: dead rows vacuumed
 * and a checkpoint taken, outside the measured window. Without it the rounds rode PostgreSQL's
 * cycles instead (the outbox's and the queues' dead index entries until autovacuum came by, the
 * full-page writes after each checkpoint): orders/s of the same kind of round varied 2× within a
 * run, in a cycle of ~4 rounds, both kinds alike.
 */
async function settle(dbUrl: string): Promise<void> {
  await query(dbUrl, 'vacuum');
  await query(dbUrl, 'checkpoint');
}

/** Until nothing waits: every outbox record relayed and no delivery pending or in flight. Returns when that was first seen (epoch ms). */
async function drained(dbUrl: string): Promise<number> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    // Drained: the outbox relayed, every enabled subscription's cursor at the last event, no retry waiting.
    const [row] = await query<{ outbox: string; behind: string; deliveries: string }>(
      dbUrl,
      `select (select count(*) from (select 1 from orders.outbox where published_at is null limit 1) o) as outbox,
              (select count(*) from (select 1 from webhooks.subscriptions where enabled and cursor < (select coalesce(max(seq), 0) from webhooks.events) limit 1) s) as behind,
              (select count(*) from (select 1 from webhooks.deliveries where status in ('pending', 'sending') limit 1) d) as deliveries`,
    );
    if (Number(row!.outbox) === 0 && Number(row!.behind) === 0 && Number(row!.deliveries) === 0) return Date.now();
    if (Date.now() > deadline) throw new Error(`not drained within ${DRAIN_TIMEOUT_MS} ms: ${JSON.stringify(row)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Commit time (epoch ms) of each order, from pg_xact_commit_timestamp. */
async function commitTimes(dbUrl: string, ids: string[]): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 5000) {
    const rows = await query<{ id: string; at: string }>(
      dbUrl,
      `select id::text as id, extract(epoch from pg_xact_commit_timestamp(xmin)) * 1000 as at from orders.orders where id = any($1::uuid[])`,
      [ids.slice(i, i + 5000)],
    );
    for (const r of rows) times.set(r.id, Number(r.at));
  }
  return times;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  round: number;
  subscriptions: number;
  ordersPerSecond: number;
  outcomes: string;
  delivered?: number;
  deliveredPerSecond?: number;
  drainSeconds?: number;
  p50?: number;
  p99?: number;
  /** CPU of the server per order, and of the worker (relay and delivery) per event delivered, ms. */
  serverCpu?: number;
  workerCpu?: number;
  /** CPU of the worker per order placed, ms, whatever it did (relay, mails, deliveries), until everything drained. */
  workerCpuPerOrder?: number;
  /** CPU of the private PostgreSQL per order placed, ms (the orders, and the relay's and deliveries' writes), until everything drained. */
  postgresCpuPerOrder?: number;
}

async function main() {
  const startedAt = new Date().toISOString();
  const machineBefore = machine();
  // Pinned before anything starts, so PostgreSQL, Redis and the server inherit the rest of the CPUs.
  const apiCpus = WORKER_CPUS ? otherCpus(WORKER_CPUS) : undefined;
  if (apiCpus) pin(process.pid, apiCpus);
  const privateRedis = apiCpus ? await startPrivateRedis() : undefined;
  const redisUrl = privateRedis?.url ?? REDIS_URL;
  let own: BenchPostgres | undefined;
  const adminUrl = process.env.BENCH_DATABASE_URL ?? (own = await startBenchPostgres(200)).url;
  const dbUrl = databaseUrl(adminUrl, DB_NAME);
  await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`);
  await admin(adminUrl, `create database ${DB_NAME}`);
  const { request, close } = httpClient(PORT, CLIENTS + 4);
  // The worker also mails each order's customer: to an SMTP server that accepts, as in production
  // (a refused one made every mail fail and retry, a different cost).
  const smtp = await startSmtpSink();
  const env = {
    SMTP_URL: smtp.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: PREFIX,
    RUN_JOBS_IN_API: 'false',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    ADMIN_USERNAME: STAFF.username,
    ADMIN_PASSWORD: STAFF.password,
    ACCESS_TOKEN_TTL_SECONDS: '7200',
  };
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bench-webhooks-'));
  let server: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  let receiver: { child: ChildProcess; port: number } | undefined;
  let workers = 0;
  // BENCH_WORKER_PROFILE=<dir>: each worker writes a V8 CPU profile there (node --cpu-prof) when it stops.
  const profileDir = process.env.BENCH_WORKER_PROFILE;
  const newWorker = async () => {
    const child = await startWorker({ databaseUrl: dbUrl, env, stdoutFile: path.join(logDir, `worker-${++workers}.log`), ...(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}) });
    if (WORKER_CPUS) pin(child.pid, WORKER_CPUS);
    return child;
  };
  try {
    await seed(dbUrl);
    receiver = await startReceiver();
    if (WORKER_CPUS) pin(receiver.child.pid, WORKER_CPUS);
    server = await startServer({ port: PORT, databaseUrl: dbUrl, env, request, quietStdout: true, startSeconds: 120 });
    worker = await newWorker();
    const login = await request('POST', '/api/identity/token/', STAFF);
    if (login.status !== 200) throw new Error(`staff login: ${login.status} ${login.body}`);
    const staff = { authorization: `Bearer ${JSON.parse(login.body).access}` };
    const subs: string[] = [];
    for (let i = 1; i <= SUBSCRIPTIONS; i++) {
      const res = await request('POST', '/api/webhooks/subscriptions/', { url: `http://127.0.0.1:${receiver.port}/s${i}`, events: ['order.created'], enabled: false }, staff);
      if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${res.body}`);
      subs.push(JSON.parse(res.body).id);
    }
    const setEnabled = async (enabled: boolean) => {
      for (const id of subs) {
        const res = await request('PATCH', `/api/webhooks/subscriptions/${id}/`, { enabled }, staff);
        if (res.status !== 200) throw new Error(`enable: ${res.status} ${res.body}`);
      }
    };
    const tokens = await signIn(request, { count: CUSTOMERS, usernamePrefix: 'webhooksbench', loginHeaders: (i) => ({ 'x-forwarded-for': `10.0.2.${i}` }) });
    const placeOrders = (seconds: number) =>
      drive(CLIENTS, seconds, async (client, round) => {
        const res = await (request as Request)(
          'POST',
          '/api/orders/orders/',
          { order_items: [{ product: productId(1 + Math.floor(Math.random() * PRODUCTS)), quantity: 1 }] },
          { authorization: tokens[(client + round) % tokens.length]!, 'idempotency-key': randomUUID() },
        );
        return res.status === 201 ? 'ok' : String(res.status);
      });

    // Warm-up, both kinds (JIT, pools, plans; the worker's delivery code and the receiver too).
    for (const five of [true, false]) {
      await setEnabled(five);
      await placeOrders(3);
      await drained(dbUrl);
    }
    const rows: Row[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const five of round % 2 === 1 ? [false, true] : [true, false]) {
        await setEnabled(five);
        await drained(dbUrl);
        await settle(dbUrl);
        const mark = (await arrivals(receiver.port, 0)).count;
        const cpu0 = { server: cpuOf(server.pid) ?? NaN, worker: cpuOf(worker!.pid) ?? NaN, postgres: own?.cpu() ?? NaN };
        const from = Date.now();
        const run = await placeOrders(SECONDS);
        const serverCpu = (((cpuOf(server.pid) ?? NaN) - cpu0.server) * 1000) / Math.max(1, run.counts['ok'] ?? 0);
        const to = Date.now();
        const row: Row = { round, subscriptions: five ? SUBSCRIPTIONS : 0, ordersPerSecond: run.perSecond, outcomes: JSON.stringify(run.counts), serverCpu };
        if (five) {
          const done = await drained(dbUrl);
          const got = (await arrivals(receiver.port, mark)).arrivals;
          const times = await commitTimes(dbUrl, [...new Set(got.map(([id]) => id))]);
          const latencies = got.map(([id, at]) => at - times.get(id)!).filter(Number.isFinite).sort((a, b) => a - b);
          Object.assign(row, {
            delivered: got.length,
            deliveredPerSecond: got.filter(([, at]) => at <= to).length / ((to - from) / 1000),
            drainSeconds: (done - to) / 1000,
            p50: percentile(latencies, 50),
            p99: percentile(latencies, 99),
            workerCpu: (((cpuOf(worker!.pid) ?? NaN) - cpu0.worker) * 1000) / Math.max(1, got.length),
          });
        }
        if (!five) await drained(dbUrl);
        row.workerCpuPerOrder = (((cpuOf(worker!.pid) ?? NaN) - cpu0.worker) * 1000) / Math.max(1, run.counts['ok'] ?? 0);
        row.postgresCpuPerOrder = (((own?.cpu() ?? NaN) - cpu0.postgres) * 1000) / Math.max(1, run.counts['ok'] ?? 0);
        rows.push(row);
        console.error(`round ${round}, ${row.subscriptions} subscriptions: ${row.ordersPerSecond.toFixed(0)} orders/s`);
      }
    }

    // Delivery alone: a backlog of BENCH_SECONDS of orders, then the worker started on it.
    await setEnabled(true);
    await drained(dbUrl);
    await stopServer(worker);
    worker = undefined;
    const backlogRun = await placeOrders(SECONDS);
    const [{ n: waiting } = { n: '0' }] = await query<{ n: string }>(dbUrl, 'select count(*) as n from orders.outbox where published_at is null');
    const mark = (await arrivals(receiver.port, 0)).count;
    worker = await newWorker();
    const workerUp = Date.now();
    await drained(dbUrl);
    const backlog = (await arrivals(receiver.port, mark)).arrivals;
    const lastAt = Math.max(...backlog.map(([, at]) => at));
    const backlogRate = backlog.length / ((lastAt - workerUp) / 1000);

    console.log(`\nwebhooks bench, ${startedAt}: ${machineBefore} at start, ${machine()} at end; node ${process.version}`);
    console.log(
      `${WORKER_CPUS ? `CPUs: worker and receiver on ${WORKER_CPUS}, the rest (server, PostgreSQL, a private Redis, this process) on ${apiCpus}; ` : ''}` +
        `PostgreSQL: ${own ? `private instance, ${own.settings}` : adminUrl}; src/server.ts and src/worker.ts (NODE_ENV=production, RUN_JOBS_IN_API=false, ` +
        `WEBHOOK_CONCURRENCY default 16); receiver: bare node:http in its own process answering 204; ${CLIENTS} closed-loop clients, ${SECONDS} s per round, one-unit orders over ${PRODUCTS} products`,
    );
    console.log(`\n| round | subscriptions | orders/s | events delivered/s during the orders | events delivered | drain after the orders (s) | commit → delivery p50 (ms) | p99 (ms) | server CPU per order (ms) | worker CPU per event (ms) | worker CPU per order (ms) | PostgreSQL CPU per order (ms) | outcomes |`);
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    const f = (x: number | undefined, d = 0) => (x === undefined ? '' : x.toFixed(d));
    for (const r of rows) {
      console.log(`| ${r.round} | ${r.subscriptions} | ${f(r.ordersPerSecond)} | ${f(r.deliveredPerSecond)} | ${f(r.delivered)} | ${f(r.drainSeconds, 1)} | ${f(r.p50, 1)} | ${f(r.p99, 1)} | ${f(r.serverCpu, 2)} | ${f(r.workerCpu, 2)} | ${f(r.workerCpuPerOrder, 2)} | ${f(r.postgresCpuPerOrder, 3)} | ${r.outcomes} |`);
    }
    // What the deliveries alone cost: the worker's CPU per order with five subscriptions less without, per event.
    const perOrder = (n: number) => median(rows.filter((r) => r.subscriptions === n).map((r) => r.workerCpuPerOrder!));
    console.log(`\nworker CPU per delivered event, deliveries alone (per-order medians, five − none, ÷ ${SUBSCRIPTIONS}): ${((perOrder(SUBSCRIPTIONS) - perOrder(0)) / SUBSCRIPTIONS).toFixed(3)} ms`);
    const pgPerOrder = (n: number) => median(rows.filter((r) => r.subscriptions === n).map((r) => r.postgresCpuPerOrder!));
    if (own) console.log(`PostgreSQL CPU per delivered event (per-order medians, five − none, ÷ ${SUBSCRIPTIONS}): ${((pgPerOrder(SUBSCRIPTIONS) - pgPerOrder(0)) / SUBSCRIPTIONS).toFixed(3)} ms`);
    const none = median(rows.filter((r) => r.subscriptions === 0).map((r) => r.ordersPerSecond));
    const five = median(rows.filter((r) => r.subscriptions > 0).map((r) => r.ordersPerSecond));
    // Each round's two halves ran back to back: their ratio, beside the ratio of the medians.
    const paired = median(
      Array.from({ length: ROUNDS }, (_, i) => {
        const of = (n: number) => rows.find((r) => r.round === i + 1 && (r.subscriptions > 0) === (n > 0))!.ordersPerSecond;
        return of(SUBSCRIPTIONS) / of(0);
      }),
    );
    console.log(`\n| figure | value | target |`);
    console.log('|---|---:|---|');
    console.log(`| orders/s, median, no subscriptions | ${none.toFixed(0)} | |`);
    console.log(`| orders/s, median, ${SUBSCRIPTIONS} subscriptions | ${five.toFixed(0)} | within 10 % of none: ${five >= 0.9 * none ? 'met' : 'missed'} (${((five / none - 1) * 100).toFixed(1)} %) |`);
    console.log(`| orders/s with ${SUBSCRIPTIONS} subscriptions ÷ with none, the median of each round's pair | ${paired.toFixed(3)} | ≥ 0.9 |`);
    console.log(`| commit → delivery p50 / p99, median of the rounds (ms) | ${median(rows.filter((r) => r.p50 !== undefined).map((r) => r.p50!)).toFixed(1)} / ${median(rows.filter((r) => r.p99 !== undefined).map((r) => r.p99!)).toFixed(1)} | |`);
    console.log(
      `| events delivered/s from a backlog (worker alone: ${waiting} outbox records from ${backlogRun.perSecond.toFixed(0)} orders/s × ${SECONDS} s, × ${SUBSCRIPTIONS} subscriptions) | ${backlogRate.toFixed(0)} | |`,
    );
    if (worker) await stopServer(worker);
    worker = undefined;
    console.log(`\nmails: to a local SMTP sink (bench/smtp-sink.ts) that accepts every one; ${await smtp.stop()} accepted`);
  } finally {
    close();
    if (worker) await stopServer(worker);
    if (server) await stopServer(server);
    receiver?.child.kill('SIGTERM');
    await smtp.stop();
    rmSync(logDir, { recursive: true, force: true });
    await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
    await deleteKeysWithPrefix(redisUrl, PREFIX);
    await privateRedis?.stop();
    own?.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
