/**
 * Webhooks end to end: staff subscribe through the API, customers order, and a real receiver in
 * another process gets each event signed so that the `standardwebhooks` library verifies it.
 * Delivery runs as in embedded mode (the jobs in this process); on PostgreSQL + Redis when the
 * TEST_ URLs are set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobs } from '../../jobs.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { startReceiver, verifyHook, waitFor, type Receiver } from '../../../test/helpers/webhook-receiver.ts';

const t: TestApp = await buildTestApp();
let staff: TestUser;
let customer: TestUser;
let receiver: Receiver;
let jobs: { stop(): Promise<void> };

beforeAll(async () => {
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
  receiver = await startReceiver();
  jobs = startJobs(t.services);
});
afterAll(async () => {
  await jobs.stop();
  await receiver.stop();
  await t.close();
});

async function subscribe(path: string, events: string[] = ['*']) {
  const res = await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload: { url: receiver.url(path), events, description: path } });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; secret: string };
}

async function order(quantity = 1) {
  const product = await createProduct(t, { stock: 100, priceCents: 1250 });
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: product.id, quantity }] } });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; total: string };
}

/** The verified events of `type` for `orderId` that arrived at `path`. */
async function arrived(path: string, secret: string, type: string, orderId: string) {
  const hooks = await receiver.received(path);
  return hooks.map((h) => ({ hook: h, body: verifyHook(secret, h) })).filter((x) => x.body.type === type && x.body.data['id'] === orderId);
}

const deliveries = async (subscriptionId: string) =>
  (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${subscriptionId}/deliveries/?limit=100`, headers: staff.auth })).json().results as Array<{
    id: string;
    event_id: string;
    type: string;
    status: string;
    attempt: number;
    response_status: number | null;
  }>;

describe('subscriptions API', () => {
  it('shows the secret only on create and rotation; refuses bad input with a problem and changes nothing', async () => {
    const created = await subscribe('/api-test', ['order.created']);
    expect(created.secret).toMatch(/^whsec_/);
    const read = await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${created.id}/`, headers: staff.auth });
    expect(read.json()).not.toHaveProperty('secret');
    expect(read.json()).toMatchObject({ enabled: true, disabled_reason: null, events: ['order.created'], last_delivery: null });
    const listed = await t.app.inject({ method: 'GET', url: '/api/webhooks/subscriptions/', headers: staff.auth });
    expect(listed.json().results.some((s: { id: string; secret?: string }) => s.id === created.id && s.secret === undefined)).toBe(true);

    for (const payload of [{ url: 'ftp://x.example/', events: ['*'] }, { url: receiver.url('/x'), events: ['order.eaten'] }, { url: receiver.url('/x'), events: [] }, { url: receiver.url('/x') }]) {
      const bad = await t.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers: staff.auth, payload });
      expect(bad.statusCode).toBe(400);
      expect(bad.headers['content-type']).toContain('application/problem+json');
    }
    const patched = await t.app.inject({ method: 'PATCH', url: `/api/webhooks/subscriptions/${created.id}/`, headers: staff.auth, payload: { events: ['order.shipped'], description: 'ship only' } });
    expect(patched.json()).toMatchObject({ events: ['order.shipped'], description: 'ship only' });
    const rotated = await t.app.inject({ method: 'POST', url: `/api/webhooks/subscriptions/${created.id}/rotate-secret/`, headers: staff.auth });
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json().secret).toMatch(/^whsec_/);
    expect(rotated.json().secret).not.toBe(created.secret);
    const missing = await t.app.inject({ method: 'GET', url: '/api/webhooks/subscriptions/0190a0a0-0000-7000-8000-000000000000/', headers: staff.auth });
    expect(missing.statusCode).toBe(404);
    const gone = await t.app.inject({ method: 'DELETE', url: `/api/webhooks/subscriptions/${created.id}/`, headers: staff.auth });
    expect(gone.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${created.id}/`, headers: staff.auth })).statusCode).toBe(404);
  });
});

describe('delivery', () => {
  it('delivers order.created, order.shipped and order.cancelled, each once, signed, with the order as it was', async () => {
    const sub = await subscribe('/orders');
    const shipped = await order(2);
    const cancelled = await order(1);
    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${shipped.id}/ship/`, headers: staff.auth });
    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${cancelled.id}/cancel/`, headers: customer.auth });

    const created = await waitFor(async () => ((await arrived('/orders', sub.secret, 'order.created', shipped.id)).length ? await arrived('/orders', sub.secret, 'order.created', shipped.id) : undefined), 30_000, 'order.created');
    // A snapshot: the order was confirmed when created, even though it was shipped before delivery.
    expect(created[0]!.body.data).toMatchObject({ id: shipped.id, status: 'confirmed', total: '25.00', order_items: [{ quantity: 2, price: '12.50', line_total: '25.00' }] });
    const ship = await waitFor(async () => (await arrived('/orders', sub.secret, 'order.shipped', shipped.id))[0], 30_000, 'order.shipped');
    expect(ship.body.data['status']).toBe('shipped');
    const cancel = await waitFor(async () => (await arrived('/orders', sub.secret, 'order.cancelled', cancelled.id))[0], 30_000, 'order.cancelled');
    expect(cancel.body.data).toMatchObject({ status: 'cancelled', cancel_reason: 'customer' });
    expect(new Date(cancel.body.timestamp).getTime()).toBeGreaterThan(0);
    // Each event once, with a distinct id.
    const all = await receiver.received('/orders');
    expect(new Set(all.map((h) => h.headers['webhook-id'])).size).toBe(all.length);
    expect(all.filter((h) => verifyHook(sub.secret, h).type === 'order.created')).toHaveLength(2);
    // The receiver answers before the worker records the attempt: wait for the log to catch up.
    const log = await waitFor(async () => {
      const page = await deliveries(sub.id);
      return page.filter((d) => d.status === 'succeeded' || d.status === 'failed').length >= 4 ? page : undefined;
    }, 30_000, 'four recorded attempts');
    expect(log.filter((d) => d.status === 'succeeded')).toHaveLength(4);
    const health = (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${sub.id}/`, headers: staff.auth })).json();
    expect(health.last_delivery).toMatchObject({ status: 'succeeded', response_status: 204 });
  });

  it('only sends the types a subscription asked for', async () => {
    const sub = await subscribe('/shipped-only', ['order.shipped']);
    const o = await order();
    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${o.id}/ship/`, headers: staff.auth });
    await waitFor(async () => (await arrived('/shipped-only', sub.secret, 'order.shipped', o.id))[0], 30_000, 'order.shipped');
    expect((await receiver.received('/shipped-only')).map((h) => verifyHook(sub.secret, h).type)).toEqual(['order.shipped']);
  });

  it('signs with both secrets for a day after a rotation', async () => {
    const sub = await subscribe('/rotated', ['order.created']);
    const rotated = (await t.app.inject({ method: 'POST', url: `/api/webhooks/subscriptions/${sub.id}/rotate-secret/`, headers: staff.auth })).json();
    const o = await order();
    const hook = await waitFor(async () => (await receiver.received('/rotated')).find((h) => JSON.parse(h.body).data.id === o.id), 30_000, 'rotated delivery');
    expect(hook.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifyHook(rotated.secret, hook).type).toBe('order.created');
    expect(verifyHook(sub.secret, hook).type).toBe('order.created');
  });

  it('retries a receiver answering 500 or hanging, while another subscription gets its events at once', async () => {
    await receiver.setMode('/failing', 'fail');
    await receiver.setMode('/hanging', 'hang');
    const failing = await subscribe('/failing', ['order.created']);
    const hanging = await subscribe('/hanging', ['order.created']);
    const healthy = await subscribe('/healthy', ['order.created']);
    const started = Date.now();
    const orders = [await order(), await order(), await order()];
    for (const o of orders) await waitFor(async () => (await arrived('/healthy', healthy.secret, 'order.created', o.id))[0], 30_000, 'healthy delivery');
    // The healthy receiver is not held up by the failing and hanging ones (the timeout is 10 s).
    expect(Date.now() - started).toBeLessThan(8000);
    // The failing one is retried within seconds (schedule 1 s, 5 s, …) and its attempts are logged.
    await waitFor(async () => ((await deliveries(failing.id)).filter((d) => d.status === 'failed' && d.response_status === 500).length >= 6 ? true : undefined), 30_000, 'retries');
    const attempts = (await receiver.received('/failing')).map((h) => h.headers['webhook-id']);
    expect(new Set(attempts).size).toBe(3); // the same ids again on every attempt
    // The hanging one: cut off after the timeout and retried.
    await waitFor(async () => ((await deliveries(hanging.id)).some((d) => d.status === 'failed' && /within/.test(String((d as { error?: string }).error))) ? true : undefined), 30_000, 'timeout');
    // Back to health: every event arrives, and the log's newest attempt is a success.
    await receiver.setMode('/failing', 'ok');
    for (const o of orders) await waitFor(async () => (await arrived('/failing', failing.secret, 'order.created', o.id)).find((x) => x.hook.headers['webhook-id']) , 40_000, 'recovered delivery');
    await t.app.inject({ method: 'PATCH', url: `/api/webhooks/subscriptions/${hanging.id}/`, headers: staff.auth, payload: { enabled: false } });
  }, 90_000);

  it('redelivers one event on request, with the same webhook-id', async () => {
    const sub = await subscribe('/redeliver', ['order.created']);
    const o = await order();
    const first = await waitFor(async () => (await arrived('/redeliver', sub.secret, 'order.created', o.id))[0], 30_000, 'first delivery');
    // The attempt's row is written once the receiver has answered and the batch is recorded: wait for it.
    const done = await waitFor(async () => (await deliveries(sub.id))[0], 30_000, 'the first attempt recorded');
    const res = await t.app.inject({ method: 'POST', url: `/api/webhooks/subscriptions/${sub.id}/deliveries/${done.id}/redeliver/`, headers: staff.auth });
    expect(res.statusCode).toBe(202);
    const again = await waitFor(async () => {
      const got = await arrived('/redeliver', sub.secret, 'order.created', o.id);
      return got.length >= 2 ? got : undefined;
    }, 30_000, 'redelivery');
    expect(again[1]!.hook.headers['webhook-id']).toBe(first.hook.headers['webhook-id']);
    // Recorded after the receiver has answered: wait for it.
    const log = await waitFor(async () => {
      const page = await deliveries(sub.id);
      return page[0]?.status === 'succeeded' || page[0]?.status === 'failed' ? page : undefined;
    }, 30_000, 'the redelivery recorded');
    expect(log[0]).toMatchObject({ attempt: 2, status: 'succeeded', event_id: done.event_id });
    const other = await t.app.inject({ method: 'POST', url: `/api/webhooks/subscriptions/${(await subscribe('/other')).id}/deliveries/${done.id}/redeliver/`, headers: staff.auth });
    expect(other.statusCode).toBe(404);
  });

  it('sends a subscription disabled and enabled again only the events recorded while it was enabled', async () => {
    const sub = await subscribe('/paused', ['order.created']);
    const patch = (enabled: boolean) => t.app.inject({ method: 'PATCH', url: `/api/webhooks/subscriptions/${sub.id}/`, headers: staff.auth, payload: { enabled } });
    const before = await order();
    await waitFor(async () => (await arrived('/paused', sub.secret, 'order.created', before.id))[0], 30_000, 'the order before the pause');
    expect((await patch(false)).statusCode).toBe(200);
    const during = await order();
    // Another subscription, enabled, gets the later order: delivery has run past it while this one is off.
    const witness = await subscribe('/while-paused', ['order.created']);
    const later = await order();
    await waitFor(async () => (await arrived('/while-paused', witness.secret, 'order.created', later.id))[0], 30_000, 'another subscription got the later order');
    expect((await patch(true)).statusCode).toBe(200);
    const after = await order();
    await waitFor(async () => (await arrived('/paused', sub.secret, 'order.created', after.id))[0], 30_000, 'the order after the pause');
    const got = (await receiver.received('/paused')).map((h) => verifyHook(sub.secret, h).data['id']);
    expect(got).toEqual([before.id, after.id]);
    expect(got).not.toContain(during.id);
  });

  it('brings every event of concurrent orders, and the sell-outs they cause, to each subscription once', async () => {
    const all = await subscribe('/burst-all', ['*']);
    const created = await subscribe('/burst-created', ['order.created']);
    // Two units each, two orders each: every product sells out inside an order's transaction (its
    // product.updated recorded there) while the relay records order.created beside it.
    const products = await Promise.all(Array.from({ length: 12 }, () => createProduct(t, { stock: 2, priceCents: 500 })));
    const buyers = await Promise.all(Array.from({ length: 4 }, () => createUser(t)));
    const placed = await Promise.all(
      products.flatMap((p, i) => [0, 1].map(async (k) => {
        const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: buyers[(i + k) % buyers.length]!.auth, payload: { order_items: [{ product: p.id, quantity: 1 }] } });
        expect(res.statusCode).toBe(201);
        return res.json() as { id: string };
      })),
    );
    const expected = placed.length + products.length;
    const verified = await waitFor(async () => {
      const hooks = (await receiver.received('/burst-all')).map((h) => ({ id: h.headers['webhook-id'], body: verifyHook(all.secret, h) }));
      return hooks.length >= expected ? hooks : undefined;
    }, 60_000, 'every event at the subscription to all');
    const ofType = (type: string) => verified.filter((h) => h.body.type === type);
    expect(ofType('order.created').map((h) => h.body.data['id']).sort()).toEqual(placed.map((o) => o.id).sort());
    const soldOut = ofType('product.updated').filter((h) => (h.body.data['changes'] as string[]).includes('sold_out'));
    expect(soldOut.map((h) => h.body.data['id']).sort()).toEqual(products.map((p) => p.id).sort());
    expect(new Set(verified.map((h) => h.id)).size).toBe(verified.length);
    const orderHooks = await waitFor(async () => {
      const hooks = await receiver.received('/burst-created');
      return hooks.length >= placed.length ? hooks : undefined;
    }, 60_000, 'every order.created at the other subscription');
    expect(orderHooks.map((h) => verifyHook(created.secret, h).data['id']).sort()).toEqual(placed.map((o) => o.id).sort());
  }, 120_000);

  it('a receiver down for 10 s gets every event within 60 s of its return', async () => {
    const sub = await subscribe('/outage', ['order.created']);
    await receiver.stop();
    const downAt = Date.now();
    const orders = [await order(), await order(), await order()];
    await waitFor(async () => ((await deliveries(sub.id)).filter((d) => d.status === 'failed').length >= 3 ? true : undefined), 20_000, 'failures while down');
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
    await receiver.start();
    const backAt = Date.now();
    for (const o of orders) await waitFor(async () => (await arrived('/outage', sub.secret, 'order.created', o.id))[0], 60_000, 'delivery after the outage');
    expect(Date.now() - backAt).toBeLessThan(60_000);
  }, 120_000);
});
