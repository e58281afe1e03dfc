/**
 * Flash-sale mode (ORDERS_MODE=async) seen from outside: the customer is mailed "received" at
 * acceptance (202) and "confirmed" once the worker wrote the order, once each (a replay mails
 * nothing more), never "received" after "confirmed"; a real receiver in another process gets
 * `order.created` once (status confirmed) and `order.confirmed` once, signed. The worker runs as
 * the worker process runs it (startJobs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobs } from '../../../jobs.ts';
import { receivedMail } from '../mails.ts';
import type { OrderJson } from '../schemas.ts';
import { createReceivedMails } from './received-mails.ts';
import { createUser, type TestUser } from '../../../../test/helpers/auth.ts';
import { startTestSmtp, type TestSmtp } from '../../../../test/helpers/smtp.ts';
import { buildTestApp, type TestApp } from '../../../../test/helpers/test-app.ts';
import { onRealPostgres, testRedisUrl } from '../../../../test/helpers/test-env.ts';
import { startReceiver, verifyHook, waitFor, type Receiver } from '../../../../test/helpers/webhook-receiver.ts';

describe.runIf(onRealPostgres && testRedisUrl)('flash-sale mode: order mails and order events', () => {
  let smtp: TestSmtp;
  let receiver: Receiver;
  let t: TestApp;
  let staff: TestUser;
  let jobs: { stop(): Promise<void> } | undefined;
  const emailOf = (u: TestUser) => `${u.username.toLowerCase()}@example.com`;
  /** The subjects an order's mails arrived with, in arrival order: 'received' / 'confirmed'. */
  const mailed = (to: string, orderId: string) =>
    smtp
      .mailsTo(to)
      .map((m) => m.subject ?? '')
      .filter((subject) => subject.includes(orderId.slice(-8)))
      .map((subject) => subject.split(' ').at(-1));

  beforeAll(async () => {
    smtp = await startTestSmtp();
    receiver = await startReceiver();
    t = await buildTestApp({ env: { ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false', SMTP_URL: smtp.url } });
    staff = await createUser(t, { staff: true });
  }, 60_000);
  afterAll(async () => {
    await jobs?.stop();
    await t?.close();
    await receiver?.stop();
    await smtp?.stop();
  });

  it('mails received at acceptance and confirmed when written, and sends order.created and order.confirmed once each', async () => {
    const sub = await t.app.inject({
      method: 'POST',
      url: '/api/webhooks/subscriptions/',
      headers: staff.auth,
      payload: { url: receiver.url('/flash'), events: ['order.created', 'order.confirmed', 'order.cancelled'] },
    });
    const { secret } = sub.json() as { secret: string };
    const product = (
      await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Lamp', price: '19.99', quantity: 50 } })
    ).json() as { id: string };
    const customer = await createUser(t);
    const to = emailOf(customer);
    const place = () =>
      t.app.inject({
        method: 'POST',
        url: '/api/orders/orders/',
        headers: { ...customer.auth, 'idempotency-key': 'lamp-1' },
        payload: { order_items: [{ product: product.id, quantity: 3 }] },
      });
    const res = await place();
    expect(res.statusCode).toBe(202);
    const orderId = res.json().id as string;
    // The worker and the relay start once the received mail is out: a relay that came first would
    // rightly drop it (its confirmed mail would be queued already; see the next test).
    await waitFor(async () => {
      await t.services.identity.deliverMail();
      return smtp.mailsTo(to).length > 0 ? true : undefined;
    }, 30_000, 'the received mail');
    jobs = startJobs(t.services);

    const mails = await waitFor(async () => {
      const got = smtp.mailsTo(to);
      return got.some((m) => m.subject?.includes('received')) && got.some((m) => m.subject?.includes('confirmed')) ? got : undefined;
    }, 30_000, 'received and confirmed mails');
    expect(mailed(to, orderId)).toEqual(['received', 'confirmed']);
    const received = mails.find((m) => m.subject?.includes('received'))!;
    expect(received.text).toContain('3 × Lamp at 19.99 = 59.97');
    expect(received.text).toContain('Total: 59.97');
    expect(received.html).toContain('<td>Lamp</td>');
    expect(mails.find((m) => m.subject?.includes('confirmed'))!.text).toContain(orderId);

    // Both events arrive, each once, with the order as written (confirmed).
    const hooks = await waitFor(async () => {
      const got = (await receiver.received('/flash')).map((h) => verifyHook(secret, h)).filter((b) => b.data['id'] === orderId);
      return got.length >= 2 ? got : undefined;
    }, 30_000, 'order.created and order.confirmed');
    expect(hooks.map((h) => h.type).sort()).toEqual(['order.confirmed', 'order.created']);
    expect(hooks.every((h) => h.data['status'] === 'confirmed')).toBe(true);

    // A replay of the same request is the same order: no second mail, no second event. A later
    // order's mails prove the relay and the mail outbox have moved past the replay.
    expect((await place()).json().id).toBe(orderId);
    const next = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
    expect(next.statusCode).toBe(202);
    await waitFor(async () => (smtp.mailsTo(to).filter((m) => m.subject?.includes('confirmed')).length >= 2 ? true : undefined), 30_000, 'the next order confirmed');
    expect(mailed(to, orderId)).toEqual(['received', 'confirmed']);
    // The next order's received mail came before its confirmed one, or not at all.
    expect([['received', 'confirmed'], ['confirmed']]).toContainEqual(mailed(to, next.json().id as string));
    const events = (await receiver.received('/flash')).map((h) => verifyHook(secret, h)).filter((b) => b.data['id'] === orderId);
    expect(events).toHaveLength(2);
  }, 90_000);

  it('never mails "received" after "confirmed": a late flush drops the received mail of an order already relayed', async () => {
    const product = (
      await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Kettle', price: '9.99', quantity: 50 } })
    ).json() as { id: string };
    const customer = await createUser(t);
    const to = emailOf(customer);
    const order = () => t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
    const res = await order();
    expect(res.statusCode).toBe(202);
    const accepted = res.json() as OrderJson;
    await waitFor(async () => (mailed(to, accepted.id).includes('confirmed') ? true : undefined), 30_000, 'the confirmed mail');

    // A flush that fell behind (a backlog, a primary that was down) reaches the same order now:
    // the same flusher and queue as the API's, handed the order as admission handed it.
    const late = createReceivedMails({
      primary: t.services.db.primary,
      logger: t.services.logger,
      queue: (tx, orders) => t.services.identity.queueCustomerMails(tx, orders.map((o) => ({ userId: o.customer, compose: receivedMail(o) }))).then(() => {}),
    });
    late.add(accepted);
    await late.close();

    // A later order's confirmed mail proves the outbox has moved past what the late flush queued.
    const next = await order();
    await waitFor(async () => (mailed(to, next.json().id as string).includes('confirmed') ? true : undefined), 30_000, 'the next confirmed mail');
    expect([['received', 'confirmed'], ['confirmed']]).toContainEqual(mailed(to, accepted.id));
  }, 90_000);
});
