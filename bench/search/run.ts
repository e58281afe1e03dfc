/**
 * Search at a million products: p50/p99 per request of search (a relevance-ordered page with its
 * count), facets (the same page with `facets=category,price`) and suggestions, from 8 closed-loop
 * clients against the real server — as the clients saw it, and as server time (the access log's
 * `duration_ms`: from the request read to the answer sent, the server logging at info as in
 * production) — beside the same SQL driven bare by pgbench (prepared statements, 8 clients) in the
 * same run.
 *
 * The database is one already seeded (`npm run seed -- --products 1000000`); the query set is
 * bench/search/queries.txt (110 queries drawn from the seed's words: common words, two-word
 * queries, words found only in descriptions, half-typed prefixes, 25 with a typo, rare batch
 * numbers, five that match nothing). Each request asks a `limit` no earlier request of its query
 * asked, so pages are built, not served from the cache (the count, cached per filter, is built
 * on its query's first round only); each suggestion gets punctuation no earlier one had (see
 * `uncached`). `BENCH_KINDS=suggest` runs only some of search, facets, suggest (and
 * suggest-cached, see `Kind`).
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/search_bench BENCH_SECONDS=20 npx tsx bench/search/run.ts
 *
 * The server keeps its cache and versions in process (no REDIS_URL) unless BENCH_REDIS_URL is
 * given: then in that Redis, under a key prefix of its own (removed at the end), as a deployment
 * with several processes would — each cache lookup, version read and write a round trip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { PgDialect } from 'drizzle-orm/pg-core';
import { createDatabase } from '../../src/platform/db.ts';
import { deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { expandSearch } from '../../src/modules/catalog/search.ts';
import { suggestionsQuery } from '../../src/modules/catalog/suggest.ts';
import * as repo from '../../src/modules/catalog/repo.ts';
import { facetsQuery } from '../../src/modules/catalog/facets.ts';
import { drive, httpClient, signIn, startServer, stopServer } from '../lib.ts';

const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/search_bench';
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
/** 8 (the issue's figure); BENCH_CLIENTS=1 shows a request's own latency, without the others' CPU. */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const port = 3950;
const redisUrl = process.env.BENCH_REDIS_URL;
const redisPrefix = `bench-search-${process.pid}:`;
const queries = readFileSync(new URL('./queries.txt', import.meta.url), 'utf8').split('\n').filter(Boolean);

/**
 * `suggest-cached` asks each query's suggestions as typed, so after its first request each is
 * served from the page cache: the server's own cost around a suggestion (HTTP, token, route,
 * cache) without its SQL — what the built suggestions' figure has on top of that is the SQL and
 * the waits for it.
 */
type Kind = 'search' | 'facets' | 'suggest' | 'suggest-cached';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return `${s.length} req, p50 ${percentile(s, 50).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms`;
};

/**
 * Suggestions are cached by the typed text (spacing and case aside): trailing punctuation, which
 * matches nothing and changes no word, makes each request a text not asked before, so every
 * suggestion is built by the database, as the bare SQL is.
 */
const uncached = (n: number) => ` ${[...n.toString(9)].map((d) => '.,;:!?-_~'[Number(d)]).join('')}`;

/** The service: each client walks the query set from its own offset; latency per request. */
async function service(kind: Kind, request: ReturnType<typeof httpClient>['request'], tokens: string[]) {
  const times: number[] = [];
  const run = await drive(CLIENTS, seconds, async (client, round) => {
    const text = queries[(client * 13 + round) % queries.length]!;
    const q = encodeURIComponent(text);
    const limit = 1 + ((round * CLIENTS + client) % 100);
    const target =
      kind === 'suggest'
        ? `/api/catalog/suggest/?q=${encodeURIComponent(text + uncached(round * CLIENTS + client))}`
        : kind === 'suggest-cached'
        ? `/api/catalog/suggest/?q=${q}`
        : `/api/catalog/products/?search=${q}&limit=${limit}${kind === 'facets' ? '&facets=category,price' : ''}`;
    const started = performance.now();
    const res = await request('GET', target, undefined, { authorization: tokens[client]! });
    times.push(performance.now() - started);
    return res.status === 200 ? 'ok' : `status ${res.status}`;
  });
  return { times, run };
}

/** The same SQL as pgbench scripts, one per query (expanded once, as a cache miss would). */
async function pgbenchScripts(kind: Kind): Promise<string> {
  const db = await createDatabase({ url, deadlines: { statementMs: 60_000, queryMs: 70_000 } });
  const dialect = new PgDialect();
  const dir = mkdtempSync(path.join(tmpdir(), `search-${kind}-`));
  const inline = (q: { sql: string; params: unknown[] }) =>
    q.sql.replace(/\$(\d+)/g, (_, n: string) => {
      const v = q.params[Number(n) - 1];
      return typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`;
    });
  try {
    for (const [i, text] of queries.entries()) {
      const terms = await expandSearch(db.primary, text);
      const filter: repo.ProductFilter = { search: text, terms, inStock: true };
      const page = [repo.keysetQuery(filter, { column: 'relevance', descending: false }, null, 21), repo.countQuery(filter)];
      const statements = kind.startsWith('suggest') ? [suggestionsQuery(terms)] : kind === 'search' ? page : [...page, facetsQuery(filter)];
      writeFileSync(path.join(dir, `q${i}.sql`), statements.map((s) => `${inline(dialect.sqlToQuery(s)).replace(/\s+/g, ' ')};`).join('\n') + '\n');
    }
  } finally {
    await db.close();
  }
  return dir;
}

function pgbench(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
  const logDir = mkdtempSync(path.join(tmpdir(), 'search-pgbench-log-'));
  execFileSync('pgbench', ['-n', '-M', 'prepared', '-c', String(CLIENTS), '-j', '2', '-T', String(seconds), '-l', '--log-prefix', path.join(logDir, 'log'), ...files.flatMap((f) => ['-f', path.join(dir, f)]), url], { stdio: ['ignore', 'ignore', 'inherit'] });
  const latencies = readdirSync(logDir).flatMap((f) =>
    readFileSync(path.join(logDir, f), 'utf8').split('\n').filter(Boolean).map((line) => Number(line.split(' ')[2]) / 1000),
  );
  return summary(latencies);
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`search bench: ${queries.length} queries, ${CLIENTS} clients, ${seconds} s each, cache ${redisUrl ? 'in Redis' : 'in process'}; load average ${load()}`);
const { request, close } = httpClient(port, CLIENTS + 2);
// BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there on exit (summarise with bench/profile.ts).
const cpuProf = process.env.BENCH_CPU_PROF;
// The server logs at info, as in production, into a file: its access lines' duration_ms are the
// server time of each request (Fastify's elapsed time, from the request read to the answer sent).
const logDir = mkdtempSync(path.join(tmpdir(), 'search-server-log-'));
const serverLog = path.join(logDir, 'server.log');
const server = await startServer({
  port,
  databaseUrl: url,
  request,
  stdoutFile: serverLog,
  startSeconds: 120,
  ...(cpuProf ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', cpuProf] } : {}),
  env: { LOG_LEVEL: 'info', DATABASE_POOL_MAX: '16', REGISTRATION_MAX_PER_HOUR: '1000000', ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: redisPrefix } : {}) },
});

/** The log's length now, once lines written up to now have reached it (they go out 4 KB or 100 ms at a time). */
async function logMark(): Promise<number> {
  await new Promise((r) => setTimeout(r, 300));
  return statSync(serverLog).size;
}

/** Server time (access lines' duration_ms) of this kind's requests logged between two marks. */
function serverTimes(kind: Kind, from: number, to: number): number[] {
  const text = readFileSync(serverLog).subarray(from, to).toString('utf8');
  const mine = (u: string) => (kind.startsWith('suggest') ? u.startsWith('/api/catalog/suggest/') : u.startsWith('/api/catalog/products/') && u.includes('facets=') === (kind === 'facets'));
  return text.split('\n').flatMap((line) => {
    if (!line.includes('"request completed"')) return [];
    let entry: { url?: string; duration_ms?: number; status?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return []; // a line cut at a mark (none expected: marks wait for the log's flush)
    }
    return entry.url && mine(entry.url) && entry.status === 200 && typeof entry.duration_ms === 'number' ? [entry.duration_ms] : [];
  });
}

try {
  const tokens = await signIn(request, { count: CLIENTS, usernamePrefix: `search-bench-${Date.now()}-` });
  const kinds = (process.env.BENCH_KINDS ?? 'search,facets,suggest').split(',') as Kind[];
  for (const kind of kinds) {
    const from = await logMark();
    const { times, run } = await service(kind, request, tokens);
    const serverMs = serverTimes(kind, from, await logMark());
    const bare = pgbench(await pgbenchScripts(kind));
    console.log(
      `${kind.padEnd(8)} service, at the client: ${summary(times)} (${JSON.stringify(run.counts)}) | server time (access log): ${summary(serverMs)} | bare SQL (pgbench -M prepared): ${bare} | load ${load()}`,
    );
  }
} finally {
  await stopServer(server);
  close();
  if (redisUrl) await deleteKeysWithPrefix(redisUrl, redisPrefix);
  rmSync(logDir, { recursive: true, force: true });
}
