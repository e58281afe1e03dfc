/**
 * An account's mails arrive in the order they were queued, also when one of them has to be
 * retried (issue 25): a later mail waits for the earlier one instead of overtaking it. Through the
 * real SMTP test server, which refuses a mail once (451) as a busy server would; the delivery job
 * is run by hand, so each run is one step of the story.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { startTestSmtp, type TestSmtp } from '../../../test/helpers/smtp.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let smtp: TestSmtp;
let t: TestApp;
let staff: TestUser;
const emailOf = (u: TestUser) => `${u.username.toLowerCase()}@example.com`;

beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await buildTestApp({ env: { SMTP_URL: smtp.url, RUN_JOBS_IN_API: 'false' } });
  staff = await createUser(t, { staff: true });
}, 60_000);
afterAll(async () => {
  await t?.close();
  await smtp?.stop();
});

/** An order placed and relayed: its confirmed mail is queued. */
async function confirmedOrder(customer: TestUser): Promise<string> {
  const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Kettle', price: '24.00', quantity: 5 } });
  expect(created.statusCode).toBe(201);
  const product = created.json() as { id: string };
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
  expect(res.statusCode).toBe(201);
  await t.services.orders.relayOutbox();
  return res.json().id as string;
}

async function ship(orderId: string) {
  expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${orderId}/ship/`, headers: staff.auth })).statusCode).toBe(200);
  await t.services.orders.relayOutbox();
}

it("holds an account's later mail back while an earlier one waits for its retry", async () => {
  const early = await createUser(t); // its confirmed mail fails before the shipped one is queued
  const together = await createUser(t); // both queued when the confirmed one fails
  const first = await confirmedOrder(early);
  const second = await confirmedOrder(together);
  await ship(second);
  smtp.refuseNext(emailOf(early), /confirmed/);
  smtp.refuseNext(emailOf(together), /confirmed/);
  await t.services.identity.deliverMail(); // both confirmed mails refused; `together`'s shipped one waits
  await ship(first);
  await t.services.identity.deliverMail(); // `early`'s shipped mail is due, its confirmed one not yet
  expect(smtp.mailsTo(emailOf(early))).toEqual([]);
  expect(smtp.mailsTo(emailOf(together))).toEqual([]);

  // The refused mails are retried after their back-off (5 s); then each account gets both, in order.
  const deadline = Date.now() + 30_000;
  while (smtp.mailsTo(emailOf(early)).length + smtp.mailsTo(emailOf(together)).length < 4 && Date.now() < deadline) {
    await t.services.identity.deliverMail();
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const customer of [early, together]) {
    expect(smtp.mailsTo(emailOf(customer)).map((m) => m.subject?.replace(/Order \w+ /, ''))).toEqual(['confirmed', 'shipped']);
  }
}, 60_000);

it('sends a backlog in one run, accounts side by side over a few reused connections, each account in order', async () => {
  const customers = await Promise.all(Array.from({ length: 30 }, () => createUser(t)));
  const orders = await Promise.all(customers.map((c) => confirmedOrder(c)));
  for (const id of orders) await ship(id);
  const before = smtp.connections().opened;
  // 60 mails, more than one claim's worth before this change (20): all go out in this one run.
  expect(await t.services.identity.deliverMail()).toBe(60);
  for (const customer of customers) {
    expect(smtp.mailsTo(emailOf(customer)).map((m) => m.subject?.replace(/Order \w+ /, ''))).toEqual(['confirmed', 'shipped']);
  }
  const { opened, mostAtOnce } = smtp.connections();
  expect(mostAtOnce).toBeGreaterThan(1); // side by side
  expect(mostAtOnce).toBeLessThanOrEqual(4); // MAIL_CONCURRENCY's default
  expect(opened - before).toBeLessThanOrEqual(4); // the pool's connections carry mail after mail
}, 60_000);
