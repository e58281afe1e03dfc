/**
 * ORDER_MAILS=false: a shop that mails its customers from its own systems gets no order mail sent
 * to them, while its webhooks still carry every order event and account mails still go; and with no
 * subscription to order events either, the relay passes the orders' records by without building
 * events nobody would read, and a subscription made later hears of the orders from then on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startJobs } from '../../jobs.ts';
import { queryRows, sql } from '../../platform/db.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { startTestSmtp, type TestSmtp } from '../../../test/helpers/smtp.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { startReceiver, waitFor, type Receiver } from '../../../test/helpers/webhook-receiver.ts';

let smtp: TestSmtp;
let receiver: Receiver;
let t: TestApp;
let staff: TestUser;
let jobs: { stop(): Promise<void> };

beforeAll(async () => {
  [smtp, receiver] = await Promise.all([startTestSmtp(), startReceiver()]);
  t = await buildTestApp({ env: { SMTP_URL: smtp.url, ORDER_MAILS: 'false' } });
  staff = await createUser(t, { staff: true });
  jobs = startJobs(t.services);
}, 60_000);
afterAll(async () => {
  await jobs.stop();
  await t.close();
  await Promise.all([smtp.stop(), receiver.stop()]);
});

const unrelayed = async (orderId: string) =>
  (await queryRows(t.services.db.primary, sql`select 1 from orders.outbox where payload->>'order_id' = ${orderId} and published_at is null`)).length;

// First: no subscription to any order event exists yet (the next test makes one).
it('relays orders nobody listens to, and a subscription made afterwards gets the orders placed from then on', async () => {
  const customer = await createUser(t);
  const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Unheard tea', price: '3.00', quantity: 10 } });
  const product = (created.json() as { id: string }).id;
  const place = async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product, quantity: 1 }] } });
    expect(res.statusCode).toBe(201);
    return (res.json() as { id: string }).id;
  };
  const unheard = await place();
  // The relay passes its records by (nothing would read its events): the outbox does not back up.
  await waitFor(async () => ((await unrelayed(unheard)) === 0 ? true : undefined), 30_000, 'the unheard order relayed');

  const sub = await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload: { url: receiver.url('/late'), events: ['order.created'] } });
  expect(sub.statusCode).toBe(201);
  const heard = await place();
  await waitFor(async () => ((await receiver.received('/late')).some((hook) => hook.body.includes(heard)) ? true : undefined), 30_000, 'the later order.created');
  const bodies = (await receiver.received('/late')).map((hook) => hook.body);
  expect(bodies).toHaveLength(1);
  expect(bodies[0]).not.toContain(unheard);
  // Disabled again, so the next test starts with only its own subscription.
  const off = await t.app.inject({ method: 'PATCH', url: `/api/webhooks/subscriptions/${(sub.json() as { id: string }).id}/`, headers: staff.auth, payload: { enabled: false } });
  expect(off.statusCode).toBe(200);
}, 90_000);

it('mails no order event to the customer, while the webhooks carry them and account mails still go', async () => {
  const subscribed = await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload: { url: receiver.url('/shop'), events: ['order.shipped'] } });
  expect(subscribed.statusCode).toBe(201);
  const customer = await createUser(t);
  const email = `${customer.username.toLowerCase()}@example.com`;
  const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Quiet tea', price: '4.50', quantity: 10 } });
  const product = created.json() as { id: string };
  const placed = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 2 }] } });
  expect(placed.statusCode).toBe(201);
  const orderId = (placed.json() as { id: string }).id;
  expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${orderId}/ship/`, headers: staff.auth })).statusCode).toBe(200);

  // The shop's system hears of the shipment: the relay has passed the order's created and shipped
  // events, in whose transaction their mails would have been queued.
  await waitFor(async () => ((await receiver.received('/shop')).some((hook) => hook.body.includes(orderId)) ? true : undefined), 30_000, 'the order.shipped webhook');

  // An account mail queued after them goes out; an account's mails leave in the order they were
  // queued, so an order mail, had one been queued, would have arrived first.
  expect((await t.app.inject({ method: 'POST', url: '/api/identity/password-reset/', payload: { email } })).statusCode).toBe(202);
  const first = await smtp.waitForMail(email, { timeoutMs: 30_000 });
  expect(first.subject?.toLowerCase()).toContain('password');
  expect(smtp.mailsTo(email)).toHaveLength(1);
}, 90_000);
