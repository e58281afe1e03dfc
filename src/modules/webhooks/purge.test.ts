/**
 * The hourly purge of old events (`webhooks.purge-old-events`), run here with a retention of zero:
 * an event goes, with its delivery log, only once nothing is still to come for it — every enabled
 * subscription's cursor past it, no retry waiting for a subscription that still exists.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { startReceiver, waitFor, type Receiver } from '../../../test/helpers/webhook-receiver.ts';
import * as repo from './repo.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;
let receiver: Receiver;

beforeAll(async () => {
  t = await buildTestApp();
  [staff, customer, receiver] = await Promise.all([createUser(t, { staff: true }), createUser(t), startReceiver()]);
}, 60_000);
afterAll(async () => {
  await receiver.stop();
  await t.close();
});

const subscribe = async (url: string) => {
  const res = await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload: { url, events: ['order.created'] } });
  expect(res.statusCode).toBe(201);
  return (res.json() as { id: string }).id;
};
const log = async (id: string) =>
  (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${id}/deliveries/?limit=100`, headers: staff.auth })).json().results as Array<{ status: string; event_id: string }>;
const order = async () => {
  const product = await createProduct(t, { stock: 10 });
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
  expect(res.statusCode).toBe(201);
  await t.services.orders.relayOutbox();
};
const purge = () => repo.purgeOldEvents(t.services.db.primary, 0);
/** Delivery rounds by hand until `done` holds. */
const deliverUntil = (what: string, done: () => Promise<boolean>) =>
  waitFor(async () => {
    await t.services.webhooks.deliverDue();
    return (await done()) ? true : undefined;
  }, 30_000, what);

it('keeps an event while a cursor is behind it or a retry is to come, then purges it with its log', async () => {
  const ok = await subscribe(receiver.url('/purge'));
  const refused = await subscribe('http://127.0.0.1:9/refused');

  await order();
  // Recorded, not yet sent: both cursors are behind the event.
  expect(await purge()).toBe(0);

  await deliverUntil('a success and a failure with its retry', async () => {
    const [good, bad] = [await log(ok), await log(refused)];
    return good.some((d) => d.status === 'succeeded') && bad.some((d) => d.status === 'failed') && bad.some((d) => d.status === 'pending');
  });
  // A retry is to come for the refused subscription: the event, and the other's log of it, stay.
  expect(await purge()).toBe(0);
  expect(await log(ok)).toHaveLength(1);

  // Its subscription deleted, the retry goes with it; the event goes next, with the log of it.
  expect((await t.app.inject({ method: 'DELETE', url: `/api/webhooks/subscriptions/${refused}/`, headers: staff.auth })).statusCode).toBe(204);
  expect(await purge()).toBe(1);
  expect(await log(ok)).toEqual([]);
}, 60_000);
