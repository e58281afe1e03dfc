/**
 * Catalog benchmark on real PostgreSQL + Redis with a seeded catalog (see docs/benchmarks.md):
 *   npm run seed -- --products 1000000   (with DATABASE_URL=…/opply_bench, once)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/opply_bench REDIS_URL=redis://127.0.0.1:6379 \
 *     npx tsx bench/catalog/run.ts
 * The API is the real server (src/server.ts, production mode) in a child process, logging every
 * request at info (to /dev/null), with a customer Bearer token on every request and live held
 * quantities from Redis. The ceiling is a bare node:http server, in a process of its own, sending
 * the very bytes and content type of the cached page; a second one sends the very gzip bytes the
 * server answers a client sending `Accept-Encoding: gzip` (as phones' HTTP stacks do). One load
 * generator (generators.ts) drives them all in the same run; the cached-page rows and their
 * ceilings run BENCH_ROUNDS times (default 3), interleaved, and the table shows each row's median
 * round (by req/s) with its ratio to the median of its ceiling. Deep pages are timed on the primary: PostgreSQL's execution time of the
 * query and the round trip of the call.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { SQL } from 'drizzle-orm';
import { createDatabase, queryRows, sql } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import * as repo from '../../src/modules/catalog/repo.ts';
import { cpuOf, httpClient, signIn, startServer, stopServer } from '../lib.ts';
import { pickGenerator, type LoadOptions, type LoadResult } from './generators.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/opply_bench';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench:catalog:${process.pid}:`;
const PORT = 19_000 + Math.floor(Math.random() * 1000);

const generator = pickGenerator();
const loadBefore = os.loadavg()[0]!;
const db = await createDatabase({ url: DATABASE_URL });
const total = (await queryRows<{ n: number }>(db.primary, sql`select count(*)::int as n from catalog.products`))[0]!.n;
if (total < 10_000) throw new Error(`${total} products in ${DATABASE_URL}: seed it first (npm run seed -- --products 1000000)`);

const client = httpClient(PORT, 4);
const server = await startServer({
  port: PORT,
  databaseUrl: DATABASE_URL,
  env: { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, LOG_LEVEL: 'info' },
  request: client.request,
  quietStdout: true,
  // A loaded shared machine starts tsx slowly.
  startSeconds: 90,
});
const [authorization] = await signIn(client.request, { count: 1, usernamePrefix: `bench_catalog_${Date.now()}_` });
const headers = { authorization: authorization! };
const pageUrl = `http://127.0.0.1:${PORT}/api/catalog/products/?limit=20`;

// The ceilings: the same bytes (plain, and gzip-coded as the server sends them), content type and
// coding, each from a bare server in its own process.
const page = await fetch(pageUrl, { headers });
if (page.status !== 200) throw new Error(`page: ${page.status}`);
const gzipHeaders = { ...headers, 'accept-encoding': 'gzip' };
const gzipped = await new Promise<{ bytes: Buffer; coding: string | undefined }>((resolve, reject) => {
  http.get(pageUrl, { headers: gzipHeaders }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve({ bytes: Buffer.concat(chunks), coding: res.headers['content-encoding'] }));
  }).on('error', reject);
});
const plainBytes = Buffer.from(await page.arrayBuffer());
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-catalog-'));
writeFileSync(path.join(dir, 'page.json'), plainBytes);
writeFileSync(path.join(dir, 'page.json.gz'), gzipped.bytes);
const startBare = async (file: string, coding?: string) => {
  const args = ['bench/catalog/bare-server.mjs', path.join(dir, file), page.headers.get('content-type')!, ...(coding ? [coding] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number((await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()).value);
  return { child, url: `http://127.0.0.1:${port}/api/catalog/products/?limit=20` };
};
const bare = await startBare('page.json');
const bareUrl = bare.url;
// Older servers send no coding: then there is no compressed row.
const compressed = gzipped.coding === 'gzip' ? await startBare('page.json.gz', 'gzip') : undefined;

const redisInfo = createRedisClient(REDIS_URL, '');
const redisCpu = async () => {
  const info = await redisInfo.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return read('used_cpu_user') + read('used_cpu_sys');
};

interface Row extends LoadResult {
  /** CPU of the serving process and of Redis per request, in microseconds. */
  serverUs: number | undefined;
  redisUs: number;
}
const measure = async (url: string, servingPid: number | undefined, extra: Partial<LoadOptions> = {}): Promise<Row> => {
  const [server0, redis0] = [cpuOf(servingPid), await redisCpu()];
  const r = await generator.load({ url, headers, seconds: SECONDS, connections: CONNECTIONS, ...extra });
  const [server1, redis1] = [cpuOf(servingPid), await redisCpu()];
  const perRequest = (a: number, b: number) => ((b - a) * 1e6) / r.requests;
  return { ...r, serverUs: server0 === undefined ? undefined : perRequest(server0, server1!), redisUs: perRequest(redis0, redis1) };
};
const warmUp = (url: string, extra: Partial<LoadOptions> = {}) => generator.load({ url, headers, seconds: 1, connections: CONNECTIONS, ...extra });

/** The cached-page rows with their ceilings; each runs every round, and a round runs them in turn. */
interface Paired {
  name: string;
  ceiling: string;
  url: string;
  pid: number | undefined;
  extra: Partial<LoadOptions>;
  rounds: Row[];
}
const paired: Paired[] = [
  { name: 'bare node:http, same bytes (ceiling)', ceiling: '', url: bareUrl, pid: bare.child.pid, extra: {}, rounds: [] },
  { name: 'cached page (auth, info logs, live holds)', ceiling: 'bare node:http, same bytes (ceiling)', url: pageUrl, pid: server.pid, extra: {}, rounds: [] },
];
if (compressed) {
  paired.push(
    { name: 'bare node:http, same gzip bytes (ceiling)', ceiling: '', url: compressed.url, pid: compressed.child.pid, extra: { headers: gzipHeaders }, rounds: [] },
    { name: 'cached page, Accept-Encoding: gzip', ceiling: 'bare node:http, same gzip bytes (ceiling)', url: pageUrl, pid: server.pid, extra: { headers: gzipHeaders }, rounds: [] },
  );
}
// Each gets an unmeasured second of the same requests first (JIT warm-up); the varying scenarios
// run after them on already compiled code and must not warm their caches.
for (const p of paired) await warmUp(p.url, p.extra);
for (let round = 0; round < ROUNDS; round++) for (const p of paired) p.rounds.push(await measure(p.url, p.pid, p.extra));
const median = (rounds: Row[]) => [...rounds].sort((a, b) => a.rps - b.rps)[Math.floor(rounds.length / 2)]!;

const rows: Array<[string, Row, string]> = paired.map((p) => [p.name, median(p.rounds), p.ceiling || p.name]);
rows.push(['uncached page (random offset < 10k)', await measure(pageUrl, server.pid, { vary: 'offset' }), paired[0]!.name]);
rows.push(['filtered search (cursor mode, random term and min_price)', await measure(`${pageUrl}&cursor=`, server.pid, { vary: 'search' }), paired[0]!.name]);

// Deep pages, offset 900,000 vs the keyset at the same depth: PostgreSQL's own execution time
// (EXPLAIN ANALYZE) and the round trip of the repo call from this process.
const sort = { column: 'created_at' as const, descending: false };
const filter = { inStock: true };
const [boundary] = await repo.listProductsByOffset(db.primary, filter, sort, 899_999, 1);
const position = { key: boundary!.sortKey, id: boundary!.id, direction: 'after' as const };
const percentiles = (times: number[]) => {
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! };
};
const timed = async (n: number, query: SQL, call: () => Promise<unknown>) => {
  const server: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < n; i++) {
    const [plan] = await queryRows<{ 'QUERY PLAN': Array<{ 'Execution Time': number }> }>(db.primary, sql`explain (analyze, format json) ${query}`);
    server.push(plan!['QUERY PLAN'][0]!['Execution Time']);
    const t0 = performance.now();
    await call();
    roundTrip.push(performance.now() - t0);
  }
  return { server: percentiles(server), roundTrip: percentiles(roundTrip) };
};
const offsetTime = await timed(15, repo.offsetQuery(filter, sort, 900_000, 20), () => repo.listProductsByOffset(db.primary, filter, sort, 900_000, 20));
const cursorTime = await timed(200, repo.keysetQuery(filter, sort, position, 20), () => repo.listProductsByKeyset(db.primary, filter, sort, position, 20));

const ceilingOf = new Map(rows.map(([name, r]) => [name, r.rps]));
console.log(
  `\ncatalog bench: ${total.toLocaleString('en')} products, ${os.availableParallelism()} cores, node ${process.version}, ` +
    `${generator.name}, ${SECONDS} s x ${CONNECTIONS} connections, cached rows: median of ${ROUNDS} rounds, ` +
    `page ${plainBytes.length} B (gzip ${compressed ? gzipped.bytes.length : '-'} B), load average ${loadBefore.toFixed(1)} -> ${os.loadavg()[0]!.toFixed(1)}\n`,
);
console.log('| scenario | req/s | p50 ms | p99 ms | vs ceiling | server CPU µs/req | Redis CPU µs/req | non-2xx | errors |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, r, ceiling] of rows) {
  const us = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(0));
  console.log(
    `| ${name} | ${Math.round(r.rps)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.rps / ceilingOf.get(ceiling)!).toFixed(2)} | ${us(r.serverUs)} | ${us(r.redisUs)} | ${r.non2xx} | ${r.errors} |`,
  );
}
console.log('\nrounds (req/s): ' + paired.map((p) => `${p.name}: ${p.rounds.map((r) => Math.round(r.rps)).join(', ')}`).join('; '));
console.log('\n| deep page, limit 20 | server p50 ms | server p99 ms | round trip p50 ms | round trip p99 ms |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, t] of [['offset=900000', offsetTime], ['cursor at depth 900000', cursorTime]] as const) {
  console.log(`| ${name} | ${t.server.p50.toFixed(2)} | ${t.server.p99.toFixed(2)} | ${t.roundTrip.p50.toFixed(2)} | ${t.roundTrip.p99.toFixed(2)} |`);
}

bare.child.kill('SIGTERM');
compressed?.child.kill('SIGTERM');
await stopServer(server);
client.close();
redisInfo.disconnect();
await deleteKeysWithPrefix(REDIS_URL, PREFIX);
await db.close();
rmSync(dir, { recursive: true, force: true });
