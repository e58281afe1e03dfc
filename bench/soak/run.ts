/**
 * Soak: the real server in a child process under steady mixed traffic (traffic.ts) for
 * SOAK_SECONDS, one table row per SOAK_INTERVAL_SECONDS: requests, latency p50/p99/max, 4xx,
 * 5xx, connection errors, and from the server's /metrics its RSS, heap and event-loop delay (p99
 * and max of prom-client's monitorEventLoopDelay histogram, which resets at every scrape, so each
 * row is that interval's).
 *
 *   npm run soak                                   # embedded database and in-process store
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm run soak
 *
 * With DATABASE_URL the soak makes a database of its own on that server (dropped at the end; the
 * replicas of DATABASE_REPLICA_URLS see it too); with REDIS_URL a key prefix of its own (deleted).
 *
 * Passes (exit 0) when, after the warm-up (SOAK_WARMUP_SECONDS): no answer was a 5xx and no
 * request failed to get an answer; RSS at the end is < 10 % above the highest RSS of the first half
 * of the measured time (RSS follows the heap's high-water mark, which V8 reaches only after its
 * first major collections — 30–40 s in at the default rate, after the warm-up — and keeps; a leak
 * goes on growing after it: a 120 s run measured 222 → 289 MB by 40 s, then 289 → 295 MB);
 * and latency does not drift: over the measured rows (SOAK_INTERVAL_SECONDS each), the median of the
 * second half's per-row p50 is at most 1.3 × the first half's + 1 ms, and the median of the second
 * half's per-row p99 at most 2 × the first half's + 5 ms. A drift (a structure that grows and is
 * walked per request, a pool that leaks) raises every later row, which moves the median; one slow
 * row — a major collection of the grown heap, a neighbour's burst on a shared machine — does not.
 * The earlier test, the p99 of all of each half's requests pooled within 1.5 × + 5 ms, failed in
 * CI on such rows: 8.9 ms → 18.6 ms, with the major collection's row at 29.8 ms (heap 138 → 54 MB),
 * while a quiet run of the same commit had its highest p99 in the first half (40.4 ms at 50 s, 17.8
 * ms at 60 s): at 1,500 requests a row, a row's p99 is its 15 slowest requests, and rows of a
 * steady run vary 2× between themselves. The pooled p99s are printed beside the medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { admin, databaseUrl, httpClient, type Request } from '../lib.ts';
import { signUp, step, type Catalog, type Customer } from './traffic.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SECONDS = env('SOAK_SECONDS', 120);
const INTERVAL = env('SOAK_INTERVAL_SECONDS', 10);
const WARMUP = env('SOAK_WARMUP_SECONDS', 20);
const CLIENTS = env('SOAK_CLIENTS', 16);
const RATE = env('SOAK_RATE', 150);
const PORT = 20_000 + Math.floor(Math.random() * 1000);
const DATABASE_URL = process.env.DATABASE_URL || undefined;
const REDIS_URL = process.env.REDIS_URL || undefined;
const REPLICAS = (process.env.DATABASE_REPLICA_URLS ?? '').split(',').filter(Boolean);
const DB_NAME = `opply_soak_${process.pid}`;
const PREFIX = `soak:${randomUUID()}:`;
const STAFF = { username: 'soakstaff', password: `soak-${randomUUID()}` };

interface Row {
  second: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  c4xx: number;
  c5xx: number;
  errors: number;
  rssMb: number;
  heapMb: number;
  loopP99: number;
  loopMax: number;
}

const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request the server has not answered in `ms` counts as unanswered: the soak must end on time. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function startServer(request: Request, dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SEED_DEMO_DATA: 'false',
      DATA_DIR: dataDir,
      DATABASE_URL: DATABASE_URL ? databaseUrl(DATABASE_URL, DB_NAME) : '',
      DATABASE_REPLICA_URLS: REPLICAS.map((r) => databaseUrl(r, DB_NAME)).join(','),
      REDIS_URL: REDIS_URL ?? '',
      REDIS_KEY_PREFIX: PREFIX,
      ADMIN_USERNAME: STAFF.username,
      ADMIN_PASSWORD: STAFF.password,
      // Short-lived access tokens, so customers refresh their sessions during even a short soak.
      ACCESS_TOKEN_TTL_SECONDS: '60',
      // The outbox relay and key purge run beside the API, as a worker would.
      RUN_JOBS_IN_API: 'true',
      // The soak signs up its customers from 127.0.0.1: an allowance for it, not the default.
      REGISTRATION_MAX_PER_HOUR: '1000000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    const up = await request('GET', '/health/ready', undefined).catch(() => undefined);
    if (up?.status === 200) return child;
    if (child.exitCode !== null) break;
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error('server did not start');
}

/** Categories and products through the staff API, stocked so that orders never run out. */
async function stockCatalog(request: Request): Promise<Catalog> {
  const login = await request('POST', '/api/identity/token/', STAFF);
  if (login.status !== 200) throw new Error(`staff login: ${login.status} ${login.body}`);
  const headers = { authorization: `Bearer ${JSON.parse(login.body).access}` };
  const categories = ['soak-a', 'soak-b', 'soak-c', 'soak-d'];
  for (const slug of categories) await request('POST', '/api/catalog/categories/', { slug, name: slug }, headers);
  const products: string[] = [];
  for (let i = 0; i < 200; i++) {
    const body = { name: `Soak item ${i}`, description: 'soak', price: `${1 + (i % 50)}.99`, quantity: 100_000_000, category: categories[i % 4] };
    const res = await request('POST', '/api/catalog/products/', body, headers);
    if (res.status !== 201) throw new Error(`product: ${res.status} ${res.body}`);
    products.push(JSON.parse(res.body).id);
  }
  return { products, categories };
}

async function scrape(request: Request): Promise<Pick<Row, 'rssMb' | 'heapMb' | 'loopP99' | 'loopMax'>> {
  const text = (await request('GET', '/metrics', undefined)).body;
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rssMb: value('process_resident_memory_bytes') / 2 ** 20,
    heapMb: value('nodejs_heap_size_used_bytes') / 2 ** 20,
    loopP99: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    loopMax: value('nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

interface Tally {
  latencies: number[];
  c4xx: number;
  c5xx: number;
  errors: number;
  samples: string[];
}
const newTally = (): Tally => ({ latencies: [], c4xx: 0, c5xx: 0, errors: 0, samples: [] });

/** Every customer in a paced loop (RATE requests/s in all) until `until`; outcomes into tally(). */
async function drive(request: Request, customers: Customer[], catalog: Catalog, until: number, tally: () => Tally) {
  const period = (customers.length / RATE) * 1000;
  await Promise.all(
    customers.map(async (customer, i) => {
      let next = Date.now() + (i * period) / customers.length;
      while (Date.now() < until) {
        await sleep(Math.max(0, next - Date.now()));
        // Behind schedule: carry on at the pace, without a burst to catch up.
        next = Math.max(next + period, Date.now());
        const started = performance.now();
        const current = tally();
        try {
          const { kind, res } = await withTimeout(step(request, customer, catalog), 10_000);
          current.latencies.push(performance.now() - started);
          if (res.status >= 500) current.c5xx++;
          else if (res.status >= 400) current.c4xx++;
          if (res.status >= 500 && current.samples.length < 3) current.samples.push(`${kind} ${res.status} ${res.body.slice(0, 200)}`);
        } catch (error) {
          current.errors++;
          if (current.samples.length < 3) current.samples.push(`connection: ${(error as Error).message}`);
        }
      }
    }),
  );
}

function verdict(rows: Row[], measured: number[][]): { pass: boolean; lines: string[] } {
  const half = Math.floor(measured.length / 2);
  const firstHalf = rows.filter((r) => r.second > WARMUP).slice(0, Math.max(1, half));
  const baseline = firstHalf.reduce((high, r) => (r.rssMb > high.rssMb ? r : high), firstHalf[0] ?? rows[0]!);
  const last = rows.at(-1)!;
  const growth = last.rssMb / baseline.rssMb - 1;
  const pooled = (parts: number[][]) => percentile(parts.flat().sort((a, b) => a - b), 0.99);
  const median = (parts: number[][], p: number) => percentile(parts.map((sorted) => percentile(sorted, p)).sort((a, b) => a - b), 0.5);
  const [early, late] = [measured.slice(0, half), measured.slice(half)];
  const [p50First, p50Second] = [median(early, 0.5), median(late, 0.5)];
  const [p99First, p99Second] = [median(early, 0.99), median(late, 0.99)];
  const fivexx = rows.reduce((n, r) => n + r.c5xx + r.errors, 0);
  const checks = [
    { ok: fivexx === 0, text: `5xx or unanswered requests: ${fivexx} (must be 0)` },
    { ok: growth < 0.1, text: `RSS high in the first half ${baseline.rssMb.toFixed(0)} MB (${baseline.second} s) → end ${last.rssMb.toFixed(0)} MB: ${(growth * 100).toFixed(1)} % (must be < 10 %)` },
    { ok: p50Second <= 1.3 * p50First + 1, text: `median of the rows' p50: first half ${p50First.toFixed(1)} ms, second half ${p50Second.toFixed(1)} ms (must be ≤ 1.3 × first + 1 ms)` },
    { ok: p99Second <= 2 * p99First + 5, text: `median of the rows' p99: first half ${p99First.toFixed(1)} ms, second half ${p99Second.toFixed(1)} ms (must be ≤ 2 × first + 5 ms; all requests pooled: ${pooled(early).toFixed(1)} → ${pooled(late).toFixed(1)} ms)` },
  ];
  return { pass: checks.every((c) => c.ok), lines: checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.text}`) };
}

function printRow(r: Row) {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log(`| ${r.second} | ${r.requests} | ${f(r.requests / INTERVAL, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${r.c4xx} | ${r.c5xx} | ${r.errors} | ${f(r.rssMb, 0)} | ${f(r.heapMb, 0)} | ${f(r.loopP99)} | ${f(r.loopMax)} |`);
}

async function main() {
  console.log(`soak: ${SECONDS} s, ${CLIENTS} customers at ${RATE} requests/s, ${DATABASE_URL ? 'PostgreSQL' : 'embedded database'}${REPLICAS.length ? ' + replica' : ''}, ${REDIS_URL ? 'Redis' : 'in-process store'}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'opply-soak-'));
  if (DATABASE_URL) await admin(DATABASE_URL, `create database ${DB_NAME}`);
  const { request, close } = httpClient(PORT, CLIENTS + 2);
  const server = await startServer(request, dataDir);
  let pass = false;
  try {
    const catalog = await stockCatalog(request);
    const customers = await signUp(request, CLIENTS, `soak${process.pid}_`);
    await scrape(request); // resets the event-loop histogram: the first row starts here
    const started = Date.now();
    let current = newTally();
    const rows: Row[] = [];
    const measured: number[][] = [];
    const traffic = drive(request, customers, catalog, started + SECONDS * 1000, () => current);
    console.log('\n| s | requests | req/s | p50 ms | p99 ms | max ms | 4xx | 5xx | no answer | RSS MB | heap MB | loop p99 ms | loop max ms |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (let second = INTERVAL; second <= SECONDS; second += INTERVAL) {
      await sleep(started + second * 1000 - Date.now());
      const done = current;
      current = newTally();
      const sorted = done.latencies.sort((a, b) => a - b);
      const row = { second, requests: sorted.length + done.errors, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0, c4xx: done.c4xx, c5xx: done.c5xx, errors: done.errors, ...(await scrape(request)) };
      rows.push(row);
      if (second > WARMUP) measured.push(sorted);
      printRow(row);
      for (const sample of done.samples) console.log(`  e.g. ${sample}`);
    }
    await traffic;
    const result = verdict(rows, measured);
    console.log(`\n${result.lines.join('\n')}\nrequests: ${rows.reduce((n, r) => n + r.requests, 0)}; load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(result.pass ? 'soak: passed' : 'soak: FAILED');
    pass = result.pass;
  } finally {
    close();
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
    if (DATABASE_URL) await admin(DATABASE_URL, `drop database if exists ${DB_NAME} with (force)`);
    if (REDIS_URL) await deleteKeysWithPrefix(REDIS_URL, PREFIX);
  }
  process.exitCode = pass ? 0 : 1;
}

await main();
