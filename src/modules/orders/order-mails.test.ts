/**
 * Order mails: each order event mails its customer once, through the real SMTP test server, with
 * the lines and totals as the order shows them; a closed account gets none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobs } from '../../jobs.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { startTestSmtp, type TestSmtp } from '../../../test/helpers/smtp.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let smtp: TestSmtp;
let t: TestApp;
let staff: TestUser;
let jobs: { stop(): Promise<void> };
const emailOf = (u: TestUser) => `${u.username.toLowerCase()}@example.com`;

beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await buildTestApp({ env: { SMTP_URL: smtp.url } });
  staff = await createUser(t, { staff: true });
  jobs = startJobs(t.services);
}, 60_000);
afterAll(async () => {
  await jobs.stop();
  await t.close();
  await smtp.stop();
});

async function order(customer: TestUser, quantity: number) {
  const created = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: `Tea ${quantity}`, price: '19.99', quantity: 50 } });
  expect(created.statusCode).toBe(201);
  const product = created.json() as { id: string };
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity }] } });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string };
}

describe('order mails', () => {
  it('mails confirmed, shipped and cancelled (with the reason) once each, in text and HTML, with lines and totals', async () => {
    const customer = await createUser(t);
    const to = emailOf(customer);
    const shipped = await order(customer, 3);
    const confirmed = await smtp.waitForMail(to);
    expect(confirmed.subject).toContain('confirmed');
    expect(confirmed.text).toContain('3 × Tea 3 at 19.99 = 59.97');
    expect(confirmed.text).toContain('Total: 59.97');
    expect(confirmed.html).toContain('<td>Tea 3</td>');

    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${shipped.id}/ship/`, headers: staff.auth });
    const ship = await smtp.waitForMail(to, { after: 1 });
    expect(ship.subject).toContain('shipped');

    const cancelled = await order(customer, 1);
    await smtp.waitForMail(to, { after: 2 });
    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${cancelled.id}/cancel/`, headers: staff.auth });
    const cancel = await smtp.waitForMail(to, { after: 3 });
    expect(cancel.subject).toContain('cancelled');
    expect(cancel.text).toContain('our team cancelled it');

    const subjects = smtp.mailsTo(to).map((m) => m.subject);
    expect(subjects.filter((s) => s?.includes('confirmed'))).toHaveLength(2);
    expect(subjects.filter((s) => s?.includes('shipped'))).toHaveLength(1);
    expect(subjects.filter((s) => s?.includes('cancelled'))).toHaveLength(1);
  }, 60_000);

  it('orders placed at once, relayed together: each customer gets one mail, about their own order', async () => {
    const customers = await Promise.all(Array.from({ length: 12 }, () => createUser(t)));
    const placed = await Promise.all(customers.map((c, i) => order(c, i + 1)));
    for (const [i, c] of customers.entries()) {
      const mail = await smtp.waitForMail(emailOf(c));
      expect(mail.text).toContain(placed[i]!.id);
      expect(mail.text).toContain(`${i + 1} × Tea ${i + 1} at 19.99`);
    }
    for (const c of customers) expect(smtp.mailsTo(emailOf(c))).toHaveLength(1);
  }, 60_000);

  it('sends nothing to a customer who closed the account', async () => {
    const leaving = await createUser(t);
    const staying = await createUser(t);
    const o = await order(leaving, 1);
    await smtp.waitForMail(emailOf(leaving));
    const closed = await t.app.inject({ method: 'DELETE', url: '/api/identity/me/', headers: leaving.auth, payload: { password: leaving.password } });
    expect(closed.statusCode).toBe(204);
    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${o.id}/ship/`, headers: staff.auth });
    // A later order's mail has gone out, so the shipping event was relayed before it: no mail for it.
    await order(staying, 1);
    await smtp.waitForMail(emailOf(staying));
    expect(smtp.mailsTo(emailOf(leaving))).toHaveLength(1);
    expect(smtp.mails.some((m) => m.subject?.includes('shipped') && m.text?.includes(o.id))).toBe(false);
  }, 60_000);
});
