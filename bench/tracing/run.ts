/**
 * What tracing costs on the cached product page (see docs/benchmarks.md), on real PostgreSQL +
 * Redis:
 *   ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
 *     npx tsx bench/tracing/run.ts
 * Servers, all started once and loaded in turn, each round in a rotated order:
 *  - bare node:http sending the page's bytes (the ceiling);
 *  - the baseline: the code as it was before tracing (the parent of the commit that added
 *    src/platform/tracing.ts, or BENCH_BASELINE_REF), extracted with `git archive`;
 *  - this code with tracing off (OTEL_EXPORTER_OTLP_ENDPOINT unset);
 *  - this code with tracing on, every trace sampled, and with 10 % sampled, exporting over OTLP
 *    to a sink (a bare server of its own answering 200) that stands in for a collector.
 * Each server is the real one in production mode (bench/lib.ts) logging every request at info to
 * /dev/null, with a customer Bearer token on every request. The database is made for the run
 * (migrated, 1,000 products) and dropped at the end.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pickGenerator, type LoadResult } from '../catalog/generators.ts';
import { deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { admin, cpuOf, databaseUrl, httpClient, signIn, startServer, stopServer } from '../lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const ADMIN_URL = process.env.ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = `opply_bench_tracing_${process.pid}`;
const DATABASE_URL = databaseUrl(ADMIN_URL, DB_NAME);
const PAGE = '/api/catalog/products/?limit=20';

const generator = pickGenerator();
const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(' ');
const started = new Date().toISOString();
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-tracing-'));
// By default the code just before tracing was added (the parent of the commit that created tracing.ts).
const firstTracing = execSync('git log --diff-filter=A --format=%H -- src/platform/tracing.ts').toString().trim().split('\n').at(-1);
const baselineRef = process.env.BENCH_BASELINE_REF ?? execSync(`git rev-parse ${firstTracing}^`).toString().trim();
const baselineDir = path.join(dir, 'baseline');

/** The baseline's code beside this one, sharing this checkout's node_modules. */
function extractBaseline() {
  execSync(`mkdir -p ${baselineDir} && git archive ${baselineRef} | tar -x -C ${baselineDir}`);
  symlinkSync(path.resolve('node_modules'), path.join(baselineDir, 'node_modules'));
}

/** A bare node:http server (bench/catalog/bare-server.mjs) sending `bytes`; resolves its port. */
async function bareServer(bytes: Buffer, contentType: string): Promise<{ child: ChildProcess; port: number }> {
  const file = path.join(dir, `bare-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, bytes);
  const child = spawn(process.execPath, ['bench/catalog/bare-server.mjs', file, contentType], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number((await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()).value);
  return { child, port };
}

interface Target {
  name: string;
  port: number;
  pid: number | undefined;
  runs: Array<LoadResult & { serverUs: number | undefined }>;
}

await admin(ADMIN_URL, `create database "${DB_NAME}"`);
execSync('npx tsx scripts/seed.ts --products 1000', { env: { ...process.env, DATABASE_URL, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
extractBaseline();
const sink = await bareServer(Buffer.alloc(0), 'application/x-protobuf');
const basePort = 19_000 + Math.floor(Math.random() * 900);
const variants: Array<{ name: string; cwd?: string; env: Record<string, string> }> = [
  { name: `baseline ${baselineRef.slice(0, 8)}, tracing off`, cwd: baselineDir, env: {} },
  { name: 'this code, tracing off', env: {} },
  { name: 'this code, tracing on, all sampled', env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}` } },
  { name: 'this code, tracing on, 10 % sampled', env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}`, OTEL_TRACES_SAMPLER_ARG: '0.1' } },
];
const servers: ChildProcess[] = [];
const targets: Target[] = [];
for (const [i, v] of variants.entries()) {
  const port = basePort + i;
  const client = httpClient(port, 4);
  const env = { REDIS_URL, REDIS_KEY_PREFIX: `bench:tracing:${process.pid}:${i}:`, LOG_LEVEL: 'info', MIGRATE_ON_START: 'false', ...v.env };
  const server = await startServer({ port, databaseUrl: DATABASE_URL, env, request: client.request, quietStdout: true, ...(v.cwd ? { cwd: v.cwd } : {}) });
  client.close();
  servers.push(server);
  targets.push({ name: v.name, port, pid: server.pid, runs: [] });
}
const signInClient = httpClient(basePort, 4);
const [authorization] = await signIn(signInClient.request, { count: 1, usernamePrefix: `bench_tracing_${Date.now()}_` });
signInClient.close();
const headers = { authorization: authorization! };
const page = await fetch(`http://127.0.0.1:${basePort}${PAGE}`, { headers });
if (page.status !== 200) throw new Error(`page: ${page.status}`);
const bare = await bareServer(Buffer.from(await page.arrayBuffer()), page.headers.get('content-type')!);
targets.unshift({ name: 'bare node:http, same bytes (ceiling)', port: bare.port, pid: bare.child.pid, runs: [] });

const url = (t: Target) => `http://127.0.0.1:${t.port}${PAGE}`;
for (const t of targets) await generator.load({ url: url(t), headers, seconds: 2, connections: CONNECTIONS }); // JIT warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < targets.length; k++) {
    const t = targets[(k + round) % targets.length]!;
    const cpu0 = cpuOf(t.pid);
    const r = await generator.load({ url: url(t), headers, seconds: SECONDS, connections: CONNECTIONS });
    const cpu1 = cpuOf(t.pid);
    t.runs.push({ ...r, serverUs: cpu0 === undefined ? undefined : ((cpu1! - cpu0) * 1e6) / r.requests });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fixed = (x: number | undefined, digits: number) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));
const [ceiling, baseline] = [targets[0]!, targets[1]!];
// Ratios are taken round by round (the two runs minutes apart at most), then their median: on a
// machine whose load swings, that is steadier than a ratio of medians.
const perRound = (t: Target, value: (r: Target['runs'][number]) => number | undefined, of: Target) =>
  median(t.runs.map((r, i) => value(r)! / value(of.runs[i]!)!));
console.log(
  `\ntracing bench, ${started}: ${os.availableParallelism()} cores, node ${process.version}, ${generator.name}, ` +
    `${ROUNDS} rounds x ${SECONDS} s x ${CONNECTIONS} connections, load average ${loadBefore} -> ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`,
);
console.log('| cached page | req/s (median) | req/s each round | p50 ms | p99 ms | vs ceiling | req/s vs baseline | server CPU µs/req | CPU vs baseline | non-2xx | errors |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const t of targets) {
  const sum = (f: (r: LoadResult) => number) => t.runs.reduce((a, r) => a + f(r), 0);
  const cpu = t.runs.every((r) => r.serverUs !== undefined) ? median(t.runs.map((r) => r.serverUs!)) : undefined;
  const vsBaseline = (value: (r: Target['runs'][number]) => number | undefined) => (t === ceiling ? undefined : perRound(t, value, baseline));
  console.log(
    `| ${t.name} | ${Math.round(median(t.runs.map((r) => r.rps)))} | ${t.runs.map((r) => Math.round(r.rps)).join(' / ')} | ` +
      `${median(t.runs.map((r) => r.p50)).toFixed(1)} | ${median(t.runs.map((r) => r.p99)).toFixed(1)} | ${perRound(t, (r) => r.rps, ceiling).toFixed(2)} | ` +
      `${fixed(vsBaseline((r) => r.rps), 3)} | ${fixed(cpu, 0)} | ${fixed(vsBaseline((r) => r.serverUs), 3)} | ${sum((r) => r.non2xx)} | ${sum((r) => r.errors)} |`,
  );
}

bare.child.kill('SIGTERM');
sink.child.kill('SIGTERM');
for (const server of servers) await stopServer(server);
await deleteKeysWithPrefix(REDIS_URL, `bench:tracing:${process.pid}:`);
await admin(ADMIN_URL, `drop database if exists "${DB_NAME}" with (force)`);
rmSync(dir, { recursive: true, force: true });
