/**
 * SIGTERM under load: the real server in a child process (embedded database, or real PostgreSQL
 * and Redis when the suite runs on them), 8 customers placing orders with Idempotency-Keys and
 * browsing over keep-alive connections, then SIGTERM. What must hold, request by request:
 *
 * - sent before SIGTERM, or within the first half of the drain window after it (SHUTDOWN_DRAIN_MS,
 *   1 s here: the listener stays open that long; the other half is slack for an event loop kept
 *   busy by the embedded database): answered, never with a 5xx — in-flight requests complete;
 * - sent later: answered (success, or 503 problem+json while closing), refused at connect
 *   (ECONNREFUSED), or reset unanswered — the listener has closed, and a client goes to another
 *   instance;
 * - a rolling restart: a second instance on the same database takes the retries, each order with
 *   its own Idempotency-Key and body. Then every order answered 201 is stored, every key has exactly
 *   one order, no order exists for a key nobody sent, stock is conserved, and both processes exit 0.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';
import { createDatabase, queryRows, sql, type Database } from '../../src/platform/db.ts';
import { deleteKeysWithPrefix } from '../../src/platform/kv.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-app.ts';
import { testRedisUrl } from '../helpers/test-env.ts';

const CLIENTS = 8;
const STOCK = 1_000_000;
const STAFF = { username: 'drainstaff', password: `drain-${randomUUID()}` };
const DRAIN_MS = 1000;

interface Outcome {
  kind: 'order' | 'browse';
  sentAt: number;
  doneAt?: number;
  connection?: string;
  status?: number;
  contentType?: string;
  error?: string;
  reusedSocket?: boolean;
  key?: string;
  orderId?: string;
  auth?: string;
  order?: unknown;
}

type Send = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<Outcome & { body?: string }>;

function client(port: number): { send: Send; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send: Send = (method, url, body, headers = {}) =>
    new Promise((resolve) => {
      const sentAt = Date.now();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ host: '127.0.0.1', port, method, path: url, agent, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            kind: 'browse',
            sentAt,
            doneAt: Date.now(),
            status: res.statusCode!,
            contentType: String(res.headers['content-type']),
            connection: String(res.headers.connection),
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'browse', sentAt, error: error.code ?? error.message, reusedSocket: req.reusedSocket }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'browse', sentAt, error: error.code ?? error.message, reusedSocket: req.reusedSocket }));
      req.end(payload);
    });
  return { send, close: () => agent.destroy() };
}

async function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/slow-server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SEED_DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      ADMIN_USERNAME: STAFF.username,
      ADMIN_PASSWORD: STAFF.password,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"port"')) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
  return { child, port };
}

/** Staff makes the products; each customer registers and signs in. */
async function prepare(send: Send) {
  const staff = JSON.parse((await send('POST', '/api/identity/token/', STAFF)).body!);
  const products: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await send('POST', '/api/catalog/products/', { name: `Drain ${i}`, price: '2.50', quantity: STOCK }, { authorization: `Bearer ${staff.access}` });
    expect(res.status, res.body).toBe(201);
    products.push(JSON.parse(res.body!).id);
  }
  const tokens: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const account = { username: `drain${i}_${randomUUID().slice(0, 6)}`, email: `drain${i}_${randomUUID().slice(0, 6)}@example.com`, password: `pw-${randomUUID()}` };
    expect((await send('POST', '/api/identity/register/', account)).status).toBe(201);
    tokens.push(`Bearer ${JSON.parse((await send('POST', '/api/identity/token/', account, { 'x-forwarded-for': `10.8.0.${i}` })).body!).access}`);
  }
  return { products, tokens };
}

/** One customer's loop: alternately an order with a fresh key and a catalog page, until refused. */
async function customerLoop(send: Send, auth: string, products: string[], until: () => boolean, outcomes: Outcome[]) {
  for (let round = 0; !until(); round++) {
    let outcome: Outcome;
    if (round % 2 === 0) {
      const key = randomUUID();
      const order = { order_items: [{ product: products[round % products.length], quantity: 1 }] };
      const res = await send('POST', '/api/orders/orders/', order, { authorization: auth, 'idempotency-key': key });
      outcome = { ...res, kind: 'order', key, auth, order, ...(res.status === 201 ? { orderId: JSON.parse(res.body!).id } : {}) };
    } else {
      outcome = await send('GET', '/api/catalog/products/?limit=20', undefined, { authorization: auth });
    }
    delete (outcome as { body?: string }).body;
    outcomes.push(outcome);
    if (outcome.error === 'ECONNREFUSED') return; // the listener is closed: this client moves on
  }
}

/** The second instance of the rolling restart takes every order left unanswered, with its key. */
async function retryElsewhere(env: Record<string, string>, unanswered: Outcome[]) {
  const { child, port } = await startServer(env);
  const { send, close } = client(port);
  try {
    for (const o of unanswered) {
      const res = await send('POST', '/api/orders/orders/', o.order, { authorization: o.auth!, 'idempotency-key': o.key! });
      expect(res.status, res.body).toBe(201);
      o.orderId = JSON.parse(res.body!).id;
    }
  } finally {
    close();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

async function ordersIn(db: Database) {
  return queryRows<{ id: string; quantity: number; status: string; key: string | null }>(
    db.primary,
    sql`select o.id, l.quantity, o.status, k.key from orders.orders o join orders.order_lines l on l.order_id = o.id
        left join orders.idempotency_keys k on k.response_body->>'id' = o.id::text`,
  );
}

it('finishes every in-flight request on SIGTERM under load and loses no order it confirmed', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'opply-drain-'));
  const prefix = `test:${randomUUID()}:`;
  let database: TestDatabase | undefined;
  const env: Record<string, string> = { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
  if (process.env.TEST_DATABASE_URL) {
    database = await createTestDatabase({ replicas: false });
    Object.assign(env, { DATABASE_URL: database.url!, ...(testRedisUrl ? { REDIS_URL: testRedisUrl, REDIS_KEY_PREFIX: prefix } : {}) });
  }
  const { child, port } = await startServer(env);
  const clients = Array.from({ length: CLIENTS + 1 }, () => client(port));
  try {
    const { products, tokens } = await prepare(clients[CLIENTS]!.send);
    const outcomes: Outcome[] = [];
    const deadline = Date.now() + 20_000;
    const loops = tokens.map((auth, i) => customerLoop(clients[i]!.send, auth, products, () => Date.now() > deadline, outcomes));
    await new Promise((r) => setTimeout(r, 1500));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const sigterm = Date.now();
    child.kill('SIGTERM');
    await Promise.all(loops);
    expect(await exited).toBe(0);

    const mustAnswer = outcomes.filter((o) => o.sentAt < sigterm + DRAIN_MS / 2);
    const later = outcomes.filter((o) => o.sentAt >= sigterm + DRAIN_MS / 2);
    const inFlight = outcomes.filter((o) => o.sentAt < sigterm && (o.doneAt === undefined || o.doneAt >= sigterm));
    expect(outcomes.filter((o) => o.sentAt < sigterm).length, 'load ran before SIGTERM').toBeGreaterThan(CLIENTS);
    expect(inFlight.length, 'requests were in flight at SIGTERM').toBeGreaterThan(0);
    const unanswered = (o: Outcome) => o.status === undefined;
    expect(mustAnswer.filter((o) => unanswered(o) || o.status! >= 500), 'sent before the listener could close, and not answered').toEqual([]);
    expect(later.filter((o) => !unanswered(o) && o.status! >= 500 && o.status !== 503), 'a 5xx other than 503').toEqual([]);
    expect(outcomes.filter((o) => o.status === 503).every((o) => o.contentType?.startsWith('application/problem+json'))).toBe(true);
    const retried = outcomes.filter((o) => o.kind === 'order' && unanswered(o));
    await retryElsewhere(env, retried);

    // Afterwards, in the database: every confirmed order, one per key, none from nowhere, stock conserved.
    const db = database?.db ?? (await createDatabase({ dataDir }));
    try {
      const rows = await ordersIn(db);
      const stored = new Set(rows.map((r) => r.id));
      const confirmed = outcomes.filter((o) => o.orderId);
      expect(new Set(confirmed.map((o) => o.orderId)).size).toBe(confirmed.length);
      expect(confirmed.length).toBeGreaterThan(0);
      expect(confirmed.filter((o) => !stored.has(o.orderId!))).toEqual([]);
      const sentKeys = new Set(outcomes.filter((o) => o.key).map((o) => o.key));
      const keyed = rows.filter((r) => r.key !== null);
      expect(keyed.every((r) => sentKeys.has(r.key!))).toBe(true);
      expect(new Set(keyed.map((r) => r.key)).size).toBe(keyed.length);
      expect(rows.length).toBe(confirmed.length);
      const [stock] = await queryRows<{ total: number }>(db.primary, sql`select sum(stock)::int as total from catalog.products`);
      expect(stock!.total + rows.filter((r) => r.status !== 'cancelled').reduce((n, r) => n + r.quantity, 0)).toBe(STOCK * products.length);
      process.stderr.write(
        `shutdown under load: ${outcomes.length} requests, ${inFlight.length} in flight at SIGTERM, ${mustAnswer.length} sent before SIGTERM + ${DRAIN_MS / 2} ms ` +
          `(all answered), ${later.length} later: ${later.filter((o) => !unanswered(o)).length} answered, ${later.filter((o) => o.error === 'ECONNREFUSED').length} refused, ` +
          `${later.filter((o) => unanswered(o) && o.error !== 'ECONNREFUSED').length} reset; ${retried.length} orders retried on the second instance; ${confirmed.length} orders confirmed, ${rows.length} stored\n`,
      );
    } finally {
      if (!database) await db.close();
    }
  } finally {
    clients.forEach((c) => c.close());
    child.kill('SIGKILL');
    await database?.drop();
    if (database && testRedisUrl) await deleteKeysWithPrefix(testRedisUrl, prefix);
    await rm(dataDir, { recursive: true, force: true });
  }
}, 120_000);
