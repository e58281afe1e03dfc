/**
 * Webhooks with production's setting WEBHOOK_ALLOW_PRIVATE_TARGETS=false (its default there, see
 * config.test.ts): a target on a private address is refused at delivery, after DNS resolution; a
 * subscription failing past the threshold is disabled, and staff see why.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startJobs } from '../../jobs.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { startReceiver, waitFor, type Receiver } from '../../../test/helpers/webhook-receiver.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;
let receiver: Receiver;
let jobs: { stop(): Promise<void> };

beforeAll(async () => {
  receiver = await startReceiver();
  t = await buildTestApp({ env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false', WEBHOOK_DISABLE_AFTER_FAILURES: '3', WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,1,1,1,1' } });
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
  jobs = startJobs(t.services);
}, 60_000);
afterAll(async () => {
  await jobs.stop();
  await receiver.stop();
  await t.close();
});

it('refuses a target that resolves to a loopback address, and disables the subscription after 3 failures', async () => {
  // "localhost" passes any check on the saved URL's text; only the resolved address shows it is loopback.
  const res = await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload: { url: `http://localhost:${receiver.port}/private`, events: ['*'] } });
  expect(res.statusCode).toBe(201);
  const sub = res.json() as { id: string };
  const product = await createProduct(t, { stock: 10 });
  await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });

  const shown = await waitFor(async () => {
    const s = (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${sub.id}/`, headers: staff.auth })).json();
    return s.enabled === false ? s : undefined;
  }, 30_000, 'the subscription disabled');
  expect(shown.disabled_reason).toMatch(/failed 3 times in a row/);
  expect(shown.last_delivery).toMatchObject({ status: 'failed', response_status: null });
  const log = (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${sub.id}/deliveries/`, headers: staff.auth })).json().results as Array<{ status: string; error: string | null }>;
  expect(log.filter((d) => d.status === 'failed')).toHaveLength(3);
  for (const d of log.filter((x) => x.status === 'failed')) expect(d.error).toMatch(/not allowed|private/i);
  // Nothing reached the receiver.
  expect(await receiver.received('/private')).toHaveLength(0);
}, 60_000);
