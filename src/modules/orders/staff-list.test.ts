/** The staff order list (every customer's, newest first, filters) and the dashboard's hourly figures. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../platform/db.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let staff: TestUser;
const ids: Record<string, string> = {};

const get = (user: TestUser, url: string) => t.app.inject({ method: 'GET', url, headers: user.auth });

async function place(user: TestUser, productId: string, quantity: number): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: user.auth, payload: { order_items: [{ product: productId, quantity }] } });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

beforeAll(async () => {
  t = await buildTestApp();
  [alice, bob, staff] = await Promise.all([createUser(t), createUser(t), createUser(t, { staff: true })]);
  const p = await createProduct(t, { stock: 100, priceCents: 250 });
  // One after the other, so creation order is the expected newest-first order.
  ids.a1 = await place(alice, p.id, 1);
  ids.b1 = await place(bob, p.id, 2);
  ids.a2 = await place(alice, p.id, 3);
  expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${ids.b1}/ship/`, headers: staff.auth })).statusCode).toBe(200);
});
afterAll(() => t.close());

describe('GET /api/orders/orders/ for staff', () => {
  it("lists every customer's orders, newest first", async () => {
    const res = await get(staff, '/api/orders/orders/');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ count: 3, next: null, previous: null });
    expect(res.json().results.map((o: { id: string }) => o.id)).toEqual([ids.a2, ids.b1, ids.a1]);
  });

  it('filters by customer and by status, and pages', async () => {
    const mine = await get(staff, `/api/orders/orders/?customer=${alice.id.toUpperCase()}`);
    expect(mine.json().results.map((o: { id: string }) => o.id)).toEqual([ids.a2, ids.a1]);
    const shipped = await get(staff, '/api/orders/orders/?status=shipped');
    expect(shipped.json()).toMatchObject({ count: 1, results: [{ id: ids.b1, status: 'shipped', customer: bob.id }] });
    const both = await get(staff, `/api/orders/orders/?status=confirmed&customer=${bob.id}`);
    expect(both.json()).toMatchObject({ count: 0, results: [] });
    const page = await get(staff, '/api/orders/orders/?limit=2');
    expect(page.json().count).toBe(3);
    expect(new URL(page.json().next).searchParams.get('offset')).toBe('2');
  });

  it('refuses a bad status or customer with a problem', async () => {
    for (const query of ['status=lost', 'customer=not-a-uuid', 'limit=0']) {
      const res = await get(staff, `/api/orders/orders/?${query}`);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json().code).toBe('validation_failed');
    }
  });
});

describe('GET /api/orders/orders/ for a customer', () => {
  it('still shows only their own orders, whatever customer they name', async () => {
    const res = await get(alice, `/api/orders/orders/?customer=${bob.id}`);
    expect(res.json().results.map((o: { id: string }) => o.id)).toEqual([ids.a2, ids.a1]);
    const bobs = await get(bob, '/api/orders/orders/?status=shipped');
    expect(bobs.json()).toMatchObject({ count: 1, results: [{ id: ids.b1 }] });
  });
});

describe('GET /api/orders/stats/hourly/', () => {
  it('counts orders and units per UTC hour of the day, cancelled ones left out, every hour present', async () => {
    // Move the three orders to known hours of a past day; cancel one of them.
    const day = '2026-03-04';
    await t.services.db.primary.execute(sql`update orders.orders set created_at = ${`${day}T09:15:00Z`}::timestamptz where id in (${ids.a1}, ${ids.b1})`);
    await t.services.db.primary.execute(sql`update orders.orders set created_at = ${`${day}T17:59:59Z`}::timestamptz where id = ${ids.a2}`);
    // The stats may be read on a replica (stats.ts): wait until it has replayed the updates.
    const hourly = async () => (await get(staff, `/api/orders/stats/hourly/?date=${day}`)).json().hours as Array<{ hour: number; orders: number; units: number }>;
    await expect.poll(async () => (await hourly())[17], { timeout: 10_000 }).toEqual({ hour: 17, orders: 1, units: 3 });
    const res = await get(staff, `/api/orders/stats/hourly/?date=${day}`);
    expect(res.statusCode).toBe(200);
    const { hours } = res.json();
    expect(hours).toHaveLength(24);
    expect(hours[9]).toEqual({ hour: 9, orders: 2, units: 3 });
    expect(hours[17]).toEqual({ hour: 17, orders: 1, units: 3 });
    expect(hours.filter((h: { orders: number }) => h.orders > 0)).toHaveLength(2);

    expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${ids.a2}/cancel/`, headers: staff.auth })).statusCode).toBe(200);
    await expect.poll(async () => (await hourly())[17], { timeout: 10_000 }).toEqual({ hour: 17, orders: 0, units: 0 });
    expect((await get(staff, '/api/orders/stats/hourly/?date=2026-03-05')).json().hours.every((h: { orders: number }) => h.orders === 0)).toBe(true);
  });

  it('is for staff only and refuses a day that does not exist', async () => {
    expect((await get(alice, '/api/orders/stats/hourly/')).json().code).toBe('forbidden');
    for (const date of ['2026-02-30', '2026-13-01', 'today']) {
      const res = await get(staff, `/api/orders/stats/hourly/?date=${date}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('validation_failed');
    }
    expect((await get(staff, '/api/orders/stats/hourly/')).statusCode).toBe(200);
  });
});
