/**
 * A server process killed (SIGKILL) while its writer has batches in flight: every batch is in the
 * database whole or not at all — orders, their keys, their outbox records and the stock agree —
 * and a client retrying each request with its Idempotency-Key ends with exactly one order per key.
 * The server is the real entry point (src/server.ts) in a child process on the test database.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sql } from '../../src/platform/db.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { onRealPostgres } from '../helpers/test-env.ts';

const STOCK = 100_000;
const LOOPS = 48;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The real entry point over `t`'s database, verifying `t`'s tokens (the one JWT_SECRET of a deployment). */
function startServer(databaseUrl: string, port: number, jwtSecret: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: jwtSecret,
      PORT: String(port),
      HOST: '127.0.0.1',
      MIGRATE_ON_START: 'false',
      SEED_DEMO_DATA: 'false',
    },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, exited };
}

async function waitUntilUp(base: string) {
  for (let i = 0; i < 150; i++) {
    const up = await fetch(`${base}/health/live`).catch(() => undefined);
    if (up?.status === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server did not start');
}

async function count(t: TestApp, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows<{ n: number }>(t.services.db.primary, query);
  return Number(row!.n);
}

describe.runIf(onRealPostgres)('a server killed with batches in flight (real PostgreSQL)', () => {
  let t: TestApp;
  let buyers: TestUser[];

  beforeAll(async () => {
    t = await buildTestApp({ redis: false });
    buyers = await Promise.all(Array.from({ length: 8 }, () => createUser(t)));
  }, 60_000);
  afterAll(() => t?.close());

  it('leaves whole batches or none, and a retry with the key yields exactly one order', async () => {
    const p = await createProduct(t, { stock: STOCK });
    const sent: Array<{ key: string; buyer: TestUser; id?: string }> = [];
    const body = JSON.stringify({ order_items: [{ product: p.id, quantity: 1 }] });

    /** One server under LOOPS closed-loop clients for 2.5 s, then killed -9. */
    async function crash(attempt: number) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const server = startServer(t.database.url!, port, t.services.config.auth.jwtSecret);
      await waitUntilUp(base);
      const post = (buyer: TestUser, key: string) =>
        fetch(`${base}/api/orders/orders/`, { method: 'POST', headers: { ...buyer.auth, 'content-type': 'application/json', 'idempotency-key': key }, body });
      let killed = false;
      const loops = Array.from({ length: LOOPS }, async (_, loop) => {
        for (let n = 0; !killed; n++) {
          const request = { key: `crash-${attempt}-${loop}-${n}`, buyer: buyers[loop % buyers.length]! } as (typeof sent)[number];
          sent.push(request);
          const res = await post(request.buyer, request.key).catch(() => undefined);
          if (!res) return;
          expect(res.status).toBe(201);
          request.id = ((await res.json()) as { id: string }).id;
        }
      });
      await new Promise((r) => setTimeout(r, 2500));
      killed = true;
      server.child.kill('SIGKILL');
      await server.exited;
      await Promise.all(loops);
    }
    // The kill must find requests in flight. Rarely the server has just answered every one of
    // them (CI saw it once, on Node 24: the answers were in the sockets when the signal landed);
    // that round tested nothing, so the crash is repeated, up to three times in all.
    for (let attempt = 1; attempt <= 3 && sent.every((s) => s.id !== undefined); attempt++) await crash(attempt);

    const answered = sent.filter((s) => s.id !== undefined);
    expect(answered.length).toBeGreaterThan(0);
    expect(sent.length - answered.length).toBeGreaterThan(0);
    // Whole batches or none: no order without its key and its outbox record, no stock taken without an order.
    const orders = await count(t, sql`select count(*) as n from orders.orders`);
    expect(await count(t, sql`select count(*) as n from orders.idempotency_keys where status = 'done'`)).toBe(orders);
    expect(await count(t, sql`select count(*) as n from orders.idempotency_keys where status = 'in_progress'`)).toBe(0);
    expect(await count(t, sql`select count(*) as n from orders.outbox where topic = 'order.created'`)).toBe(orders);
    expect(await stockOf(t, p.id)).toBe(STOCK - orders);
    expect(orders).toBeGreaterThanOrEqual(answered.length);
    // Batching happened: some transaction wrote several orders (they share its created_at).
    expect(await count(t, sql`select max(n) as n from (select count(*) as n from orders.orders group by created_at) g`)).toBeGreaterThan(1);

    // The client retries everything it sent, with the same keys, on a live instance.
    for (let i = 0; i < sent.length; i += 50) {
      await Promise.all(
        sent.slice(i, i + 50).map(async (s) => {
          const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...s.buyer.auth, 'idempotency-key': s.key, 'content-type': 'application/json' }, payload: body });
          expect(res.statusCode).toBe(201);
          if (s.id) expect(res.json().id).toBe(s.id);
        }),
      );
    }
    expect(await count(t, sql`select count(*) as n from orders.orders`)).toBe(sent.length);
    expect(await stockOf(t, p.id)).toBe(STOCK - sent.length);
  }, 120_000);
});
