/**
 * Catalog benchmark on real PostgreSQL + Redis with a seeded catalog (see docs/benchmarks.md):
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/opply_bench REDIS_URL=redis://127.0.0.1:6379 \
 *     npx tsx bench/catalog/run.ts
 * The API runs in this process (logging at info to /dev/null, a customer Bearer token, live held
 * quantities); autocannon runs in a child process; the ceiling is a bare node:http server sending
 * the very bytes of the cached page, measured in the same run.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { promisify } from 'node:util';
import pino from 'pino';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { queryRows, sql } from '../../src/platform/db.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createServices } from '../../src/services.ts';
import * as repo from '../../src/modules/catalog/repo.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 50;
const run = promisify(execFile);

const config = loadConfig({ ...process.env, LOG_LEVEL: 'info', SEED_DEMO_DATA: 'false', REDIS_KEY_PREFIX: 'bench:' });
const logger = createLogger(config, pino.destination({ dest: '/dev/null', sync: false }));
const services = await createServices(config, logger);
await migrate(services.db);
const total = (await queryRows<{ n: number }>(services.db.primary, sql`select count(*)::int as n from catalog.products`))[0]!.n;
const app = await buildApp(services);
await app.listen({ port: 0, host: '127.0.0.1' });
const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

const username = `bench_${Date.now()}`;
const password = `pw-${Math.random()}-bench-long`;
await app.inject({ method: 'POST', url: '/api/identity/register/', payload: { username, email: `${username}@example.com`, password } });
const login = await app.inject({ method: 'POST', url: '/api/identity/token/', payload: { username, password } });
const headers = { authorization: `Bearer ${login.json().access as string}` };

async function load(url: string, extra: { vary?: 'offset' | 'search'; headers?: Record<string, string>; warmup?: number } = {}) {
  const { stdout } = await run('npx', ['tsx', 'bench/catalog/load.ts', JSON.stringify({ url, seconds: SECONDS, connections: CONNECTIONS, headers, ...extra })], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as { rps: number; p50: number; p99: number; non2xx: number; errors: number };
}

// The ceiling: the same bytes and content type from a bare server.
const pageUrl = `${origin}/api/catalog/products/?limit=20`;
const warm = await fetch(pageUrl, { headers });
const bytes = Buffer.from(await warm.arrayBuffer());
const bare = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length });
  res.end(bytes);
});
await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/api/catalog/products/?limit=20`;

const rows: Array<[string, Awaited<ReturnType<typeof load>>]> = [];
// The ceiling and the cached page each get the same unmeasured second first (JIT warm-up); the
// varying scenarios run after them on already compiled code and must not warm their caches.
rows.push(['bare node:http, same bytes (ceiling)', await load(bareUrl, { warmup: 1 })]);
rows.push(['cached page (auth, info logs, live holds)', await load(pageUrl, { warmup: 1 })]);
rows.push(['uncached page (random offset < 10k)', await load(pageUrl, { vary: 'offset' })]);
rows.push(['filtered search (cursor mode, random min_price)', await load(`${pageUrl}&cursor=`, { vary: 'search' })]);

// Deep pages: server time of the repo call itself, offset 900,000 vs the keyset at the same depth.
const sort = { column: 'created_at' as const, descending: false };
const filter = { inStock: true };
const [boundary] = await repo.listProductsByOffset(services.db.primary, filter, sort, 899_999, 1);
const time = async (fn: () => Promise<unknown>, n: number) => {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n / 2)]!, p99: times[Math.min(n - 1, Math.floor(n * 0.99))]! };
};
const offsetTime = await time(() => repo.listProductsByOffset(services.db.primary, filter, sort, 900_000, 20), 15);
const cursorTime = await time(
  () => repo.listProductsByKeyset(services.db.primary, filter, sort, { key: boundary!.sortKey, id: boundary!.id, direction: 'after' }, 20),
  200,
);

const ceiling = rows[0]![1].rps;
console.log(`\ncatalog bench: ${total.toLocaleString('en')} products, ${os.cpus().length} cores (nproc ${os.availableParallelism()}), node ${process.version}, ${SECONDS}s x ${CONNECTIONS} connections\n`);
console.log('| scenario | req/s | p50 ms | p99 ms | vs ceiling | non-2xx |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, r] of rows) {
  console.log(`| ${name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${(r.rps / ceiling).toFixed(2)} | ${r.non2xx} |`);
}
console.log('\n| deep page, server time of the query (primary) | p50 ms | p99 ms |');
console.log('|---|---:|---:|');
console.log(`| offset=900000, limit 20 | ${offsetTime.p50.toFixed(2)} | ${offsetTime.p99.toFixed(2)} |`);
console.log(`| cursor at depth 900000, limit 20 | ${cursorTime.p50.toFixed(2)} | ${cursorTime.p99.toFixed(2)} |`);

bare.close();
await app.close();
await services.close();
