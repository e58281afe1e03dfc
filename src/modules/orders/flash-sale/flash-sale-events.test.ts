/**
 * Flash-sale mode (ORDERS_MODE=async) seen from outside: the customer is mailed "received" at
 * acceptance (202) and "confirmed" once the worker wrote the order, once each (a replay mails
 * nothing more); a real receiver in another process gets `order.created` once (status confirmed)
 * and `order.confirmed` once, signed. The worker runs as the worker process runs it (startJobs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobs } from '../../../jobs.ts';
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
  let jobs: { stop(): Promise<void> };
  const emailOf = (u: TestUser) => `${u.username.toLowerCase()}@example.com`;

  beforeAll(async () => {
    smtp = await startTestSmtp();
    receiver = await startReceiver();
    t = await buildTestApp({ env: { ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false', SMTP_URL: smtp.url } });
    staff = await createUser(t, { staff: true });
    jobs = startJobs(t.services);
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

    const mails = await waitFor(async () => {
      const got = smtp.mailsTo(to);
      return got.some((m) => m.subject?.includes('received')) && got.some((m) => m.subject?.includes('confirmed')) ? got : undefined;
    }, 30_000, 'received and confirmed mails');
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
    await waitFor(async () => (smtp.mailsTo(to).filter((m) => m.subject?.includes('received')).length >= 2 ? true : undefined), 30_000, 'the next order received');
    const subjects = smtp.mailsTo(to).map((m) => m.subject ?? '');
    expect(subjects.filter((s) => s.includes(orderId.slice(-8)))).toHaveLength(2);
    const events = (await receiver.received('/flash')).map((h) => verifyHook(secret, h)).filter((b) => b.data['id'] === orderId);
    expect(events).toHaveLength(2);
  }, 90_000);
});
