/**
 * Security review (issue 23), finding 7 (money overflows) and finding 4's order part (the cart's
 * per-line cap bound nothing: direct orders took 10,000 units a line). A price is at most
 * 99,999.99 and an order at most CART_MAX_UNITS_PER_LINE units of a product (repeated lines
 * summed), so every total keeps to the documented ten integer digits, exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;
beforeAll(async () => {
  t = await buildTestApp();
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
});
afterAll(async () => t?.close());

const MONEY = /^(0|[1-9][0-9]{0,9})\.[0-9]{2}$/;

const product = (price: string, quantity = 1000) =>
  t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: `Dear ${price}`, price, quantity } });
const order = (items: Array<{ product: string; quantity: number }>) =>
  t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: customer.auth, payload: { order_items: items } });

describe('money and units caps (security review, findings 7 and 4)', () => {
  it('refuses a price above 99,999.99 with 400, on create and on edit', async () => {
    for (const price of ['9999999999.99', '100000.00', '100000']) {
      const res = await product(price);
      expect(res.statusCode, price).toBe(400);
      expect(res.json().code).toBe('validation_failed');
    }
    const ok = await product('99999.99');
    expect(ok.statusCode).toBe(201);
    const id = ok.json().id as string;
    for (const method of ['PATCH', 'PUT'] as const) {
      const res = await t.app.inject({ method, url: `/api/catalog/products/${id}/`, headers: staff.auth, payload: { name: 'Dear', price: '100000.00', quantity: 1000 } });
      expect(res.statusCode, method).toBe(400);
    }
    const read = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${id}/`, headers: customer.auth });
    expect(read.json().price).toBe('99999.99');
  });

  it('applies the per-product cap (20) to direct orders, repeated lines summed, and changes nothing when refusing', async () => {
    const id = (await product('1.00')).json().id as string;
    for (const items of [[{ product: id, quantity: 21 }], [{ product: id, quantity: 10_000 }], [{ product: id, quantity: 11 }, { product: id, quantity: 10 }]]) {
      const res = await order(items);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('validation_failed');
    }
    const stock = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${id}/`, headers: customer.auth });
    expect(stock.json().quantity).toBe(1000);
    expect((await order([{ product: id, quantity: 12 }, { product: id, quantity: 8 }])).statusCode).toBe(201);
  });

  it('keeps the largest order and cart totals exact and within ten integer digits', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await product('99999.99')).json().id as string);
    const placed = await order(ids.map((id) => ({ product: id, quantity: 20 })));
    expect(placed.statusCode).toBe(201);
    expect(placed.json().total).toBe('5999999.40');
    for (const line of placed.json().order_items) expect(line.line_total).toBe('1999999.80');

    const put = await t.app.inject({ method: 'PUT', url: `/api/cart/items/${ids[0]}/`, headers: customer.auth, payload: { quantity: 20 } });
    expect(put.statusCode).toBe(200);
    expect(put.json().total).toBe('1999999.80');
    expect(put.json().total).toMatch(MONEY);
  });
});
