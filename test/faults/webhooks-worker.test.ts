/**
 * Webhook delivery survives its worker: `src/worker.ts` (a child process) killed -9 while a
 * receiver (another process) holds the request open; the worker started again delivers the event
 * after the subscription's cursor lease runs out — at most twice in all, always with its one event id, verified
 * by the `standardwebhooks` library. Real PostgreSQL only (PGlite is one process's memory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { testDatabaseUrl } from '../helpers/test-env.ts';
import { startReceiver, verifyHook, waitFor, type Receiver } from '../helpers/webhook-receiver.ts';

describe.runIf(testDatabaseUrl !== undefined)('webhooks: the worker killed -9 mid-delivery', () => {
  let t: TestApp;
  let receiver: Receiver;
  let staff: TestUser;
  let customer: TestUser;
  let worker: ChildProcess | undefined;

  const startWorker = () =>
    spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: t.database.url!,
        ...(t.redisTarget ? { REDIS_URL: t.redisTarget.url, REDIS_KEY_PREFIX: t.redisTarget.prefix } : {}),
        MIGRATE_ON_START: 'false',
        SEED_DEMO_DATA: 'false',
        // A cursor's lease is 4 × the timeout plus 15 s (a batch is up to four rounds of requests):
        // the second worker may take the batch ~27 s after the first leased it.
        WEBHOOK_TIMEOUT_MS: '3000',
      },
      stdio: 'ignore',
    });

  beforeAll(async () => {
    t = await buildTestApp({ replicas: false });
    receiver = await startReceiver();
    staff = await createUser(t, { staff: true });
    customer = await createUser(t);
  }, 60_000);
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await receiver.stop();
    await t.close();
  });

  it('delivers after a restart, at most twice, with one event id', async () => {
    await receiver.setMode('/crash', 'hang');
    const sub = (await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload: { url: receiver.url('/crash'), events: ['order.created'] } })).json();
    const product = await createProduct(t, { stock: 5 });
    const placed = (await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } })).json();

    worker = startWorker();
    // The worker relayed the order and is mid-request: the receiver holds it open.
    await waitFor(async () => ((await receiver.received('/crash')).length > 0 ? true : undefined), 60_000, 'the first attempt');
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker.kill('SIGKILL');
    await exited;
    await receiver.setMode('/crash', 'ok');

    worker = startWorker();
    const log = await waitFor(async () => {
      const page = (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${sub.id}/deliveries/`, headers: staff.auth })).json();
      return page.results.some((d: { status: string }) => d.status === 'succeeded') ? page.results : undefined;
    }, 60_000, 'delivery after the restart');

    const hooks = await receiver.received('/crash');
    // The killed worker's attempt and the restarted one's: twice, never more.
    expect(hooks).toHaveLength(2);
    expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(1);
    for (const h of hooks) expect(verifyHook(sub.secret, h)).toMatchObject({ type: 'order.created', data: { id: placed.id } });
    // One attempt row, succeeded: an attempt's row is written once it has been made, so the killed
    // worker's left none (its batch was leased again when the lease ran out).
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ attempt: 1, status: 'succeeded', event_id: hooks[0]!.headers['webhook-id'] });
  }, 120_000);
});
