/**
 * Cart writes beside the same server's cached catalog page, at 32 and 256 connections: the real
 * server (src/server.ts, production mode, real PostgreSQL + Redis, info logs) in a child process,
 * loaded by `wrk` in the same run:
 *  - the ceiling: GET /api/catalog/products/?limit=20 with a customer's Bearer token (the cached
 *    page, live held quantities: what bench/catalog measures);
 *  - PUT /api/cart/items/{id}/ (a rotating customer of 64, each keeping a cart of its own 5
 *    products, quantities cycling 1→2→3 so every call changes a hold), and the same on one hot
 *    product shared by every cart.
 * CPU per request (server, PostgreSQL, Redis) and the machine's busy share are read over each run.
 *
 *   npm run bench:cart              (BENCH_SECONDS=8)
 *   BENCH_PROFILE_DIR=/tmp/cartprof npm run bench:cart
 *                                   (the server under --cpu-prof: its self time over the spread PUT run
 *                                    at 32 connections, a table and a flame graph in that folder;
 *                                    the profiler's overhead is in that run's figures)
 *
 * PostgreSQL: a private instance (bench/tools.ts) or BENCH_DATABASE_URL (a maintenance database; a
 * database opply_bench_cart is made there and dropped). Redis: BENCH_REDIS_URL (default the local
 * one) under a key prefix of the run's own, deleted at the end. Needs wrk.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createDatabase, sql } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { admin, databaseUrl, httpClient, signIn, startServer, stopServer } from '../lib.ts';
import { writeFlame } from '../flame.ts';
import { monotonicUs, printProfile, summariseProfile } from '../profile.ts';
import { luaStrings, machine, metered, redisCpuOf, startBenchPostgres, wrk, type BenchPostgres, type CpuShare, type Probes } from '../tools.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = [32, 256];
const CUSTOMERS = 64;
const LINES = 5;
const PORT = 19_000 + Math.floor(Math.random() * 1000);
const PREFIX = `bench:cart:${randomUUID()}:`;
const DB_NAME = 'opply_bench_cart';
const PAGE = '/api/catalog/products/?limit=20';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;

interface Row {
  connections: number;
  what: string;
  perSecond: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  errors: number;
  cpu: CpuShare;
}

/** wrk's request function: customer n mod 64 changes one of its lines (or the hot product's). */
const putLua = (tokens: string[], products: string[], hot: string | undefined) => `
local tokens = ${luaStrings(tokens)}
local products = ${luaStrings(products)}
local hot = ${hot ? JSON.stringify(hot) : 'nil'}
local n = 0
request = function()
  n = n + 1
  local c = n % #tokens
  local round = math.floor(n / #tokens)
  local product = hot or products[c * ${LINES} + (round % ${LINES}) + 1]
  return wrk.format("PUT", "/api/cart/items/" .. product .. "/", {
    ["Content-Type"] = "application/json", ["Authorization"] = tokens[c + 1] }, '{"quantity":' .. (1 + round % 3) .. '}')
end`;

async function main() {
  const startedAt = new Date().toISOString();
  const machineBefore = machine();
  let own: BenchPostgres | undefined;
  const adminUrl = process.env.BENCH_DATABASE_URL ?? (own = await startBenchPostgres(100)).url;
  const dbUrl = databaseUrl(adminUrl, DB_NAME);
  await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`);
  await admin(adminUrl, `create database ${DB_NAME}`);
  const { request, close } = httpClient(PORT, 4);
  const redis = createRedisClient(REDIS_URL, '');
  const rows: Row[] = [];
  let server: ChildProcess | undefined;
  try {
    const setup = await createDatabase({ url: dbUrl, poolMax: 2 });
    await migrate(setup);
    const own5 = Array.from({ length: CUSTOMERS * LINES }, () => randomUUID());
    const hot = randomUUID();
    for (const id of [...own5, hot]) {
      await setup.primary.execute(sql`insert into catalog.products (id, name, price_cents, stock) values (${id}, ${'Bench ' + id.slice(-6)}, 1999, 100000000)`);
    }
    await setup.close();
    const env = { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, LOG_LEVEL: 'info', ACCESS_TOKEN_TTL_SECONDS: '7200' };
    const nodeArgs = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
    server = await startServer({ port: PORT, databaseUrl: dbUrl, env, request, quietStdout: true, nodeArgs });
    const serverPid = server.pid;
    const window = { from: 0, to: 0 };
    const tokens = await signIn(request, { count: CUSTOMERS, usernamePrefix: 'cartbench', loginHeaders: (i) => ({ 'x-forwarded-for': `10.0.2.${i}` }) });
    const probes: Probes = { serverPid: server.pid, postgresCpu: own ? () => own!.cpu() : undefined, redisCpu: redisCpuOf(redis) };
    const url = `http://127.0.0.1:${PORT}`;
    const loads = [
      { what: 'cached page GET (ceiling)', run: (c: number, s: number) => wrk({ url: `${url}${PAGE}`, lua: '', connections: c, seconds: s, headers: { authorization: tokens[0]! } }) },
      { what: `cart PUT, spread (${LINES}-line carts)`, run: (c: number, s: number) => wrk({ url, lua: putLua(tokens, own5, undefined), connections: c, seconds: s }) },
      { what: 'cart PUT, hot (1 product in every cart)', run: (c: number, s: number) => wrk({ url, lua: putLua(tokens, own5, hot), connections: c, seconds: s }) },
    ];
    // Warm-up of each (JIT, caches, the hold store's mirrors), not counted.
    for (const l of loads) await l.run(32, 2);
    for (const connections of CONNECTIONS) {
      for (const l of loads) {
        const profiled = connections === 32 && l === loads[1];
        const { result: r, cpu } = await metered(probes, async () => {
          if (profiled) window.from = monotonicUs();
          const result = await l.run(connections, SECONDS);
          if (profiled) window.to = monotonicUs();
          return { count: result.requests, result };
        });
        rows.push({ connections, what: l.what, perSecond: r.perSecond, p50: r.p50, p99: r.p99, statuses: r.statuses, errors: r.errors, cpu });
        console.log(`  ${connections} ${l.what}: ${r.perSecond.toFixed(0)}/s`);
      }
    }
    await stopServer(server);
    server = undefined;
    console.log(`\ncart bench, ${startedAt}: ${machineBefore} at start, ${machine()} at end; node ${process.version}; ${SECONDS} s per run`);
    console.log(`PostgreSQL: ${own ? `private instance, ${own.settings}` : adminUrl}; server: src/server.ts, NODE_ENV=production, LOG_LEVEL=info`);
    console.log('\n| connections | load | requests/s | p50 ms | p99 ms | vs cached page | CPU µs/request: server / PostgreSQL / Redis | machine busy | answers |');
    console.log('|---:|---|---:|---:|---:|---:|---|---:|---|');
    const us = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(0));
    for (const r of rows) {
      const page = rows.find((x) => x.connections === r.connections && x.what === loads[0]!.what)!.perSecond;
      const answers = [...Object.entries(r.statuses).map(([s, n]) => `${s}: ${n}`), ...(r.errors > 0 ? [`socket errors: ${r.errors}`] : [])].join(', ');
      console.log(
        `| ${r.connections} | ${r.what} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.perSecond / page).toFixed(2)} | ${us(r.cpu.server)} / ${us(r.cpu.postgres)} / ${us(r.cpu.redis)} | ${(r.cpu.machineBusy * 100).toFixed(0)} % | ${answers} |`,
      );
    }
    const bad = rows.filter((r) => r.errors > 0 || Object.keys(r.statuses).some((s) => s !== '200'));
    console.log(`\ncart PUT ≥ 0.4× cached page: ${rows.filter((r) => r.what !== loads[0]!.what).map((r) => `${r.connections} ${r.what.replace('cart PUT, ', '')}: ${(r.perSecond / rows.find((x) => x.connections === r.connections && x.what === loads[0]!.what)!.perSecond).toFixed(2)}×`).join('; ')}`);
    console.log(`answers other than 200: ${bad.length === 0 ? 'none' : bad.map((r) => `${r.connections} ${r.what}`).join('; ')}`);
    if (PROFILE_DIR) {
      const file = readdirSync(PROFILE_DIR).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${serverPid}.`));
      if (!file) throw new Error(`the server wrote no CPU profile in ${PROFILE_DIR}`);
      console.log('\n#### server, cart PUT spread, 32 connections (profiler on)');
      printProfile(summariseProfile(path.join(PROFILE_DIR, file), 30, window));
      writeFlame(path.join(PROFILE_DIR, file), path.join(PROFILE_DIR, 'cart-put-spread-32'), 'cart PUT, spread, 32 connections (self time; idle left out)', window);
      console.log(`flame graph: ${path.join(PROFILE_DIR, 'cart-put-spread-32')}.svg`);
    }
  } finally {
    close();
    if (server) await stopServer(server);
    await admin(adminUrl, `drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
    await deleteKeysWithPrefix(REDIS_URL, PREFIX);
    redis.disconnect();
    own?.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
