/**
 * What the per-request token check costs: the same tiny JSON answer served by a bare node:http
 * server (ceiling), by the app on a public route, and by the app on a signed-in route (JWT
 * verification + one revocation read), with the in-process store and with Redis. Also the check
 * alone, called in a loop.
 *
 * `BENCH_SECONDS=5 npx tsx bench/auth/run.ts` (BENCH_REDIS_URL defaults to redis://127.0.0.1:6379;
 * set it to "" to skip Redis).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createDatabase } from '../../src/platform/db.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createServices } from '../../src/services.ts';
import { resolveSigningSecret } from '../../src/platform/signing-secret.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = 16;
const BODY = JSON.stringify({ ok: true });

async function load(url: string, headers: Record<string, string> = {}) {
  // A short unmeasured run first, so the JIT has compiled the path being measured.
  await autocannon({ url, connections: CONNECTIONS, duration: 1, headers });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
  if (result.non2xx > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

async function bare() {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const figures = await load(`http://127.0.0.1:${port}/`);
  await new Promise((resolve) => server.close(resolve));
  return figures;
}

async function appRun(store: 'memory' | 'redis') {
  const config = loadConfig({
    NODE_ENV: 'production',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0001',
    // Production refuses to start without a mail transport; this bench sends no mail.
    SMTP_URL: 'smtp://127.0.0.1:2525',
    LOG_LEVEL: 'silent',
    ...(store === 'redis' ? { REDIS_URL, REDIS_KEY_PREFIX: `bench-auth-${process.pid}:` } : {}),
  });
  const logger = createLogger(config);
  const db = await createDatabase({});
  await migrate(db);
  const services = await createServices(await resolveSigningSecret(config, logger), logger, { db });
  const app = await buildApp(services);
  app.get('/api/bench/public', { config: { auth: 'public' } }, async () => ({ ok: true }));
  app.get('/api/bench/private', { config: { auth: 'customer' } }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  await services.identity.register({ username: 'bencher', email: 'bencher@example.com', password: 'a-long-bench-passphrase' }, '127.0.0.1');
  const { access } = await services.identity.login('bencher', 'a-long-bench-passphrase', '127.0.0.1');

  const calls = 20_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await services.identity.authenticate(access);
  const checkUs = Number(process.hrtime.bigint() - started) / 1000 / calls;

  const pub = await load(`${base}/api/bench/public`);
  const priv = await load(`${base}/api/bench/private`, { authorization: `Bearer ${access}` });
  await app.close();
  await services.close();
  return { pub, priv, checkUs };
}

const rows: string[][] = [];
const ceiling = await bare();
rows.push(['bare node:http (ceiling)', '-', ceiling.rps.toFixed(0), ceiling.p99.toFixed(1), '1.00', '-']);
for (const store of REDIS_URL ? (['memory', 'redis'] as const) : (['memory'] as const)) {
  const r = await appRun(store);
  rows.push([`app, public route`, store, r.pub.rps.toFixed(0), r.pub.p99.toFixed(1), (r.pub.rps / ceiling.rps).toFixed(2), '-']);
  rows.push([`app, signed-in route`, store, r.priv.rps.toFixed(0), r.priv.p99.toFixed(1), (r.priv.rps / ceiling.rps).toFixed(2), r.checkUs.toFixed(1)]);
}
const header = ['scenario', 'store', 'req/s', 'p99 ms', 'vs bare', 'check alone µs'];
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
process.exit(0);
