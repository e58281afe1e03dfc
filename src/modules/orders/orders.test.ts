import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sql } from '../../platform/db.ts';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct, restock, setPrice, stockOf } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let staff: TestUser;

beforeAll(async () => {
  t = await buildTestApp();
  [alice, bob, staff] = await Promise.all([createUser(t), createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t.close());

const place = (user: TestUser, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: { ...user.auth, ...headers }, payload: payload as object });

async function count(table: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(t.services.db.primary, sql.raw(`select count(*)::int as n from orders.${table}`));
  return row!.n;
}

describe('placing an order', () => {
  it('takes the stock and answers the order with catalog prices', async () => {
    const a = await createProduct(t, { stock: 5, priceCents: 1250, name: 'Apples' });
    const b = await createProduct(t, { stock: 3, priceCents: 199 });
    const res = await place(alice, { order_items: [{ product: a.id, quantity: 2 }, { product: b.id, quantity: 3 }] });
    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(order).toMatchObject({ customer: alice.id, status: 'confirmed', total: '30.97' });
    expect(order.order_items).toEqual(
      expect.arrayContaining([
        { product: a.id, name: 'Apples', quantity: 2, price: '12.50', line_total: '25.00' },
        { product: b.id, name: b.name, quantity: 3, price: '1.99', line_total: '5.97' },
      ]),
    );
    expect(await stockOf(t, a.id)).toBe(3);
    expect(await stockOf(t, b.id)).toBe(0);
  });

  it('ignores any price or total the client sends', async () => {
    const p = await createProduct(t, { stock: 5, priceCents: 5000 });
    const res = await place(alice, { total: '0.01', order_items: [{ product: p.id, quantity: 1, price: '0.01', unit_price: 1 }] });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ total: '50.00', order_items: [{ price: '50.00', line_total: '50.00' }] });
  });

  it('keeps the price of the moment of ordering when the catalog price changes later', async () => {
    const p = await createProduct(t, { stock: 5, priceCents: 300 });
    const id = (await place(alice, { order_items: [{ product: p.id, quantity: 1 }] })).json().id;
    await setPrice(t, p.id, 999);
    const res = await t.app.inject({ method: 'GET', url: `/api/orders/orders/${id}/`, headers: alice.auth });
    expect(res.json().order_items[0].price).toBe('3.00');
  });

  it('sums repeated products into one line', async () => {
    const p = await createProduct(t, { stock: 5, priceCents: 100 });
    const res = await place(alice, { order_items: [{ product: p.id, quantity: 2 }, { product: p.id, quantity: 3 }] });
    expect(res.statusCode).toBe(201);
    expect(res.json().order_items).toEqual([expect.objectContaining({ product: p.id, quantity: 5, line_total: '5.00' })]);
    expect(await stockOf(t, p.id)).toBe(0);
  });

  it('refuses the whole order when any line is short, listing every short line', async () => {
    const ok = await createProduct(t, { stock: 10 });
    const short1 = await createProduct(t, { stock: 1 });
    const short2 = await createProduct(t, { stock: 0 });
    const before = await count('orders');
    const res = await place(alice, {
      order_items: [{ product: ok.id, quantity: 2 }, { product: short1.id, quantity: 2 }, { product: short2.id, quantity: 1 }],
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('insufficient_stock');
    expect(res.json().items).toEqual(
      expect.arrayContaining([
        { product: short1.id, requested: 2, available: 1 },
        { product: short2.id, requested: 1, available: 0 },
      ]),
    );
    expect(res.json().items).toHaveLength(2);
    expect(await stockOf(t, ok.id)).toBe(10);
    expect(await stockOf(t, short1.id)).toBe(1);
    expect(await count('orders')).toBe(before);
  });
});

describe('validation: every bad request is refused and changes nothing', () => {
  const cases: Array<[string, (id: string) => unknown, number, string]> = [
    ['no order_items', () => ({}), 400, 'validation_failed'],
    ['empty order_items', () => ({ order_items: [] }), 400, 'validation_failed'],
    ['quantity 0', (id) => ({ order_items: [{ product: id, quantity: 0 }] }), 400, 'validation_failed'],
    ['quantity -1', (id) => ({ order_items: [{ product: id, quantity: -1 }] }), 400, 'validation_failed'],
    ['quantity 1.5', (id) => ({ order_items: [{ product: id, quantity: 1.5 }] }), 400, 'validation_failed'],
    ['quantity "2"', (id) => ({ order_items: [{ product: id, quantity: '2' }] }), 400, 'validation_failed'],
    ['quantity missing', (id) => ({ order_items: [{ product: id }] }), 400, 'validation_failed'],
    ['malformed product id', () => ({ order_items: [{ product: 'not-a-uuid', quantity: 1 }] }), 400, 'validation_failed'],
    ['order_items not an array', (id) => ({ order_items: { product: id, quantity: 1 } }), 400, 'validation_failed'],
    ['too many lines', (id) => ({ order_items: Array.from({ length: 101 }, () => ({ product: id, quantity: 1 })) }), 400, 'validation_failed'],
    ['unknown product', (id) => ({ order_items: [{ product: id, quantity: 1 }, { product: '01890000-0000-7000-8000-000000000000', quantity: 1 }] }), 422, 'unknown_product'],
  ];

  it.each(cases)('%s → %s %s', async (_name, body, status, code) => {
    const p = await createProduct(t, { stock: 500 });
    const before = { orders: await count('orders'), outbox: await count('outbox'), keys: await count('idempotency_keys') };
    const res = await place(alice, body(p.id), { 'idempotency-key': `bad-${_name}` });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe(code);
    expect(await stockOf(t, p.id)).toBe(500);
    expect({ orders: await count('orders'), outbox: await count('outbox'), keys: await count('idempotency_keys') }).toEqual(before);
  });

  it('refuses an archived product as unknown', async () => {
    const p = await createProduct(t, { stock: 5, archived: true });
    const res = await place(alice, { order_items: [{ product: p.id, quantity: 1 }] });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'unknown_product', products: [p.id] });
    expect(await stockOf(t, p.id)).toBe(5);
  });

  it('refuses a malformed Idempotency-Key with 400', async () => {
    const p = await createProduct(t, { stock: 5 });
    for (const key of ['x'.repeat(256), 'tab\there']) {
      const res = await place(alice, { order_items: [{ product: p.id, quantity: 1 }] }, { 'idempotency-key': key });
      expect(res.statusCode).toBe(400);
    }
    expect(await stockOf(t, p.id)).toBe(5);
  });

  it('requires a signed-in customer', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', payload: { order_items: [] } });
    expect(res.statusCode).toBe(401);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first success and creates nothing more', async () => {
    const p = await createProduct(t, { stock: 10 });
    const body = { order_items: [{ product: p.id, quantity: 2 }] };
    const first = await place(alice, body, { 'idempotency-key': 'replay-1' });
    const second = await place(alice, body, { 'idempotency-key': 'replay-1' });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect(await stockOf(t, p.id)).toBe(8);
  });

  it('answers 422 for the same key with a different body', async () => {
    const p = await createProduct(t, { stock: 10 });
    await place(alice, { order_items: [{ product: p.id, quantity: 1 }] }, { 'idempotency-key': 'reuse-1' });
    const res = await place(alice, { order_items: [{ product: p.id, quantity: 2 }] }, { 'idempotency-key': 'reuse-1' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('idempotency_key_reused');
    expect(await stockOf(t, p.id)).toBe(9);
  });

  it('keeps keys per customer', async () => {
    const p = await createProduct(t, { stock: 10 });
    const body = { order_items: [{ product: p.id, quantity: 1 }] };
    const a = await place(alice, body, { 'idempotency-key': 'shared-key' });
    const b = await place(bob, body, { 'idempotency-key': 'shared-key' });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(a.json().id).not.toBe(b.json().id);
  });

  it('runs a refused request again on retry with the same key', async () => {
    const p = await createProduct(t, { stock: 1 });
    const body = { order_items: [{ product: p.id, quantity: 2 }] };
    expect((await place(alice, body, { 'idempotency-key': 'retry-1' })).statusCode).toBe(409);
    await restock(t, p.id, 4);
    const retry = await place(alice, body, { 'idempotency-key': 'retry-1' });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(await stockOf(t, p.id)).toBe(3);
  });

  it('answers 409 while the first request holds the key, and lets a lapsed claim be taken over', async () => {
    const p = await createProduct(t, { stock: 10 });
    const body = { order_items: [{ product: p.id, quantity: 1 }] };
    const hash = t.services.orders.requestHash('orders.place', body);
    // A claim left by a request that is still running (or crashed a moment ago).
    await t.services.db.primary.execute(
      sql`insert into orders.idempotency_keys (customer_id, key, request_hash, status, lease_token, expires_at)
          values (${alice.id}, 'stuck-1', ${hash}, 'in_progress', gen_random_uuid(), now() + interval '60 seconds')`,
    );
    const busy = await place(alice, body, { 'idempotency-key': 'stuck-1' });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().code).toBe('idempotency_key_in_progress');
    await t.services.db.primary.execute(sql`update orders.idempotency_keys set expires_at = now() - interval '1 second' where key = 'stuck-1'`);
    expect((await place(alice, body, { 'idempotency-key': 'stuck-1' })).statusCode).toBe(201);
    expect(await stockOf(t, p.id)).toBe(9);
  });

  it('purges expired keys', async () => {
    const p = await createProduct(t, { stock: 10 });
    await place(alice, { order_items: [{ product: p.id, quantity: 1 }] }, { 'idempotency-key': 'purge-1' });
    await t.services.db.primary.execute(sql`update orders.idempotency_keys set expires_at = now() - interval '1 second' where key = 'purge-1'`);
    expect(await t.services.orders.purgeExpiredIdempotencyKeys()).toBeGreaterThanOrEqual(1);
    const rows = await queryRows(t.services.db.primary, sql`select 1 from orders.idempotency_keys where key = 'purge-1'`);
    expect(rows).toHaveLength(0);
  });
});

describe('history, cancel and ship', () => {
  it('lists own orders newest first, paginated, including one placed a moment ago', async () => {
    const carol = await createUser(t);
    const p = await createProduct(t, { stock: 10 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await place(carol, { order_items: [{ product: p.id, quantity: 1 }] })).json().id);
    await place(alice, { order_items: [{ product: p.id, quantity: 1 }] });
    const first = await t.app.inject({ method: 'GET', url: '/api/orders/orders/?limit=2', headers: carol.auth });
    expect(first.statusCode).toBe(200);
    const page = first.json();
    expect(page.count).toBe(3);
    expect(page.results.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
    expect(page.previous).toBeNull();
    expect(page.next).toMatch(/offset=2/);
    const second = await t.app.inject({ method: 'GET', url: '/api/orders/orders?limit=2&offset=2', headers: carol.auth });
    expect(second.json().results.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
    expect(second.json().next).toBeNull();
  });

  it("answers 404 for someone else's order and for an unknown one", async () => {
    const p = await createProduct(t, { stock: 10 });
    const id = (await place(alice, { order_items: [{ product: p.id, quantity: 1 }] })).json().id;
    expect((await t.app.inject({ method: 'GET', url: `/api/orders/orders/${id}/`, headers: alice.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: `/api/orders/orders/${id}/`, headers: bob.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${id}/cancel/`, headers: bob.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/orders/orders/01890000-0000-7000-8000-000000000000/', headers: alice.auth })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/orders/orders/nope/', headers: alice.auth })).statusCode).toBe(400);
    expect(await stockOf(t, p.id)).toBe(9);
  });

  it('cancels an own order once (reason: customer), putting its units back once', async () => {
    const p = await createProduct(t, { stock: 10 });
    const id = (await place(alice, { order_items: [{ product: p.id, quantity: 4 }] })).json().id;
    const res = await t.app.inject({ method: 'POST', url: `/api/orders/orders/${id}/cancel/`, headers: alice.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', cancel_reason: 'customer' });
    expect(await stockOf(t, p.id)).toBe(10);
    const again = await t.app.inject({ method: 'POST', url: `/api/orders/orders/${id}/cancel/`, headers: alice.auth });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('conflict');
    expect(await stockOf(t, p.id)).toBe(10);
  });

  it('lets staff ship and cancel; a shipped order cannot be cancelled; customers cannot ship', async () => {
    const p = await createProduct(t, { stock: 10 });
    const shipped = (await place(alice, { order_items: [{ product: p.id, quantity: 1 }] })).json().id;
    const other = (await place(alice, { order_items: [{ product: p.id, quantity: 2 }] })).json().id;
    expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${shipped}/ship/`, headers: alice.auth })).statusCode).toBe(403);
    const ship = await t.app.inject({ method: 'POST', url: `/api/orders/orders/${shipped}/ship/`, headers: staff.auth });
    expect(ship.statusCode).toBe(200);
    expect(ship.json().status).toBe('shipped');
    expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${shipped}/ship/`, headers: staff.auth })).statusCode).toBe(409);
    expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${shipped}/cancel/`, headers: alice.auth })).statusCode).toBe(409);
    const byStaff = await t.app.inject({ method: 'POST', url: `/api/orders/orders/${other}/cancel/`, headers: staff.auth });
    expect(byStaff.statusCode).toBe(200);
    expect(byStaff.json().cancel_reason).toBe('staff');
    expect(ship.json().cancel_reason).toBeNull();
    expect((await t.app.inject({ method: 'POST', url: `/api/orders/orders/${other}/ship/`, headers: staff.auth })).statusCode).toBe(409);
    expect(await stockOf(t, p.id)).toBe(9);
  });
});

describe('outbox', () => {
  it('records order events in the order transaction and relays each once', async () => {
    const p = await createProduct(t, { stock: 10 });
    const id = (await place(alice, { order_items: [{ product: p.id, quantity: 1 }] })).json().id;
    await t.app.inject({ method: 'POST', url: `/api/orders/orders/${id}/cancel/`, headers: alice.auth });
    const mine = await queryRows<{ topic: string }>(
      t.services.db.primary,
      sql`select topic from orders.outbox where payload->>'order_id' = ${id} and published_at is null order by id`,
    );
    expect(mine.map((r) => r.topic)).toEqual(['order.created', 'order.cancelled']);
    expect(await t.services.orders.relayOutbox()).toBeGreaterThanOrEqual(2);
    expect(await count('outbox')).toBeGreaterThan(0);
    const left = await queryRows(t.services.db.primary, sql`select 1 from orders.outbox where published_at is null`);
    expect(left).toHaveLength(0);
    expect(await t.services.orders.relayOutbox()).toBe(0);
  });
});
