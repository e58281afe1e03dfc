/**
 * `inventory.low_stock` and `product.updated` end to end, in sync and in flash-sale mode: staff
 * create and change a product through the API, customers order and cancel, and a real receiver in
 * another process gets each event once, signed (verified with the `standardwebhooks` library) —
 * one per crossing of the low-stock line or of zero, none for units sold while already low.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobs } from '../../jobs.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { onRealPostgres, testRedisUrl } from '../../../test/helpers/test-env.ts';
import { startReceiver, verifyHook, waitFor, type Receiver } from '../../../test/helpers/webhook-receiver.ts';

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.stop();
});

const modes: Array<{ mode: string; env: Record<string, string>; run: boolean }> = [
  { mode: 'sync', env: {}, run: true },
  { mode: 'flash-sale', env: { ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false' }, run: Boolean(onRealPostgres && testRedisUrl) },
];

describe.each(modes)('product events ($mode mode)', ({ mode, env, run }) => {
  let t: TestApp;
  let staff: TestUser;
  let customer: TestUser;
  let jobs: { stop(): Promise<void> };

  beforeAll(async () => {
    if (!run) return;
    t = await buildTestApp({ env });
    [staff, customer] = await Promise.all([createUser(t, { staff: true }), createUser(t)]);
    jobs = startJobs(t.services);
  }, 60_000);
  afterAll(async () => {
    await jobs?.stop();
    await t?.close();
  });

  /** Places an order and, in flash-sale mode, waits until the worker has written it (the stock moves then). */
  async function order(productId: string, quantity: number): Promise<string> {
    const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: [{ product: productId, quantity }] } });
    expect(res.statusCode).toBe(mode === 'sync' ? 201 : 202);
    const id = res.json().id as string;
    await waitFor(async () => {
      const read = await t.app.inject({ method: 'GET', url: `/api/orders/orders/${id}/`, headers: customer.auth });
      return read.json().status === 'confirmed' ? true : undefined;
    }, 30_000, 'the order written');
    return id;
  }

  const staffCall = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
    const res = await t.app.inject({ method, url, headers: staff.auth, ...(payload ? { payload } : {}) });
    expect(res.statusCode).toBeLessThan(300);
    return res;
  };

  it.runIf(run)('records one event per crossing of the low-stock line or of zero, and per name, price or archive change', async () => {
    const path = `/products-${mode}`;
    const sub = await t.app.inject({
      method: 'POST',
      url: '/api/webhooks/subscriptions/',
      headers: staff.auth,
      payload: { url: receiver.url(path), events: ['inventory.low_stock', 'product.updated'] },
    });
    expect(sub.statusCode).toBe(201);
    const { id: subscriptionId, secret } = sub.json() as { id: string; secret: string };
    const product = (await staffCall('POST', '/api/catalog/products/', { name: 'Kettle', price: '20.00', quantity: 12 })).json() as { id: string };
    const inventory = `/api/catalog/products/${product.id}/inventory/`;

    await order(product.id, 1); // 12 → 11: above the line (10)
    await order(product.id, 1); // 11 → 10: at the line — low (1)
    await order(product.id, 1); // 10 → 9: already low, nothing
    await staffCall('POST', inventory, { delta: 5 }); // 9 → 14: above again
    await staffCall('POST', inventory, { quantity: 3 }); // 14 → 3: low again (2)
    const last = await order(product.id, 3); // 3 → 0: sold out
    await staffCall('POST', `/api/orders/orders/${last}/cancel/`); // 0 → 3: back in stock
    await staffCall('PATCH', `/api/catalog/products/${product.id}/`, { name: 'Kettle II', price: '20.00' }); // name only: the price is the same
    await staffCall('DELETE', `/api/catalog/products/${product.id}/`); // archived

    const hooks = await waitFor(async () => {
      const got = await receiver.received(path);
      return got.length >= 6 ? got : undefined;
    }, 30_000, 'six events');
    const events = hooks.map((h) => ({ id: h.headers['webhook-id'], ...verifyHook(secret, h) })).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    expect(new Set(events.map((e) => e.id)).size).toBe(6);
    expect(events.map((e) => [e.type, e.data['stock']])).toEqual([
      ['inventory.low_stock', 10],
      ['inventory.low_stock', 3],
      ['product.updated', 0],
      ['product.updated', 3],
      ['product.updated', 3],
      ['product.updated', 3],
    ]);
    expect(events[0]!.data).toEqual({ id: product.id, name: 'Kettle', price: '20.00', stock: 10, archived: false, previous_stock: 11, low_stock_line: 10 });
    expect(events[1]!.data).toMatchObject({ stock: 3, previous_stock: 14 });
    expect(events.slice(2).map((e) => e.data['changes'])).toEqual([['sold_out'], ['back_in_stock'], ['name'], ['archived']]);
    expect(events[4]!.data).toMatchObject({ name: 'Kettle II', price: '20.00', archived: false });
    expect(events[5]!.data).toMatchObject({ name: 'Kettle II', archived: true });
    // One attempt each and nothing beyond: an attempt's row is written once its batch is recorded,
    // which can be after the receiver has answered, so wait for the six rows, then count them.
    const logCount = async () =>
      (await t.app.inject({ method: 'GET', url: `/api/webhooks/subscriptions/${subscriptionId}/deliveries/?limit=100`, headers: staff.auth })).json().count as number;
    await waitFor(async () => ((await logCount()) >= 6 ? true : undefined), 30_000, 'six attempts recorded');
    expect(await logCount()).toBe(6);
  }, 90_000);
});
