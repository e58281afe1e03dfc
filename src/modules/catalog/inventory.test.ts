/** The staff inventory view: shelf stock, units held in live carts, and the low-stock list. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let alice: TestUser;
let staff: TestUser;

beforeAll(async () => {
  t = await buildTestApp();
  [alice, staff] = await Promise.all([createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t.close());

const inventory = (user: TestUser, id: string) => t.app.inject({ method: 'GET', url: `/api/catalog/products/${id}/inventory/`, headers: user.auth });
const change = (id: string, payload: object) =>
  t.app.inject({ method: 'POST', url: `/api/catalog/products/${id}/inventory/`, headers: staff.auth, payload });
const hold = (id: string, quantity: number) =>
  t.app.inject({ method: 'PUT', url: `/api/cart/items/${id}/`, headers: alice.auth, payload: { quantity } });

describe('GET and POST products/{id}/inventory/', () => {
  it('shows stock, the units held in carts and what is left to order, and answers a change the same way', async () => {
    const p = await createProduct(t, { stock: 10, name: 'Held Tea' });
    expect((await hold(p.id, 4)).statusCode).toBe(200);
    const seen = await inventory(staff, p.id);
    expect(seen.statusCode).toBe(200);
    expect(seen.json()).toMatchObject({ id: p.id, name: 'Held Tea', stock: 10, held: 4, quantity: 6 });

    const set = await change(p.id, { quantity: 7 });
    expect(set.json()).toMatchObject({ stock: 7, held: 4, quantity: 3 });
    const adjusted = await change(p.id, { delta: -3 });
    expect(adjusted.json()).toMatchObject({ stock: 4, held: 4, quantity: 0 });
    // The customer's view agrees: quantity is what can be ordered now.
    const product = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: alice.auth });
    expect(product.json()).toMatchObject({ quantity: 0 });
    expect(product.json()).not.toHaveProperty('held');

    const refused = await change(p.id, { delta: -1 });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().detail).toMatch(/4 units held in carts/);
    // A set below the units held, or a product edit doing it, is refused the same way and changes nothing.
    expect((await change(p.id, { quantity: 3 })).json()).toMatchObject({ code: 'conflict', detail: expect.stringMatching(/4 units held in carts/) });
    const edit = await t.app.inject({ method: 'PATCH', url: `/api/catalog/products/${p.id}/`, headers: staff.auth, payload: { quantity: 2, name: 'Renamed Tea' } });
    expect(edit.json()).toMatchObject({ code: 'conflict' });
    expect((await inventory(staff, p.id)).json()).toMatchObject({ name: 'Held Tea', stock: 4, held: 4 });
    expect((await hold(p.id, 0)).statusCode).toBe(200);
    expect((await inventory(staff, p.id)).json()).toMatchObject({ stock: 4, held: 0, quantity: 4 });
  });

  it('writes off a product no one has held yet (no stock mirror): checked against the stock as locked, then mirrored', async () => {
    // Written straight into the table: the hold store has never seen it.
    const p = await createProduct(t, { stock: 5 });
    expect((await change(p.id, { delta: -2 })).json()).toMatchObject({ stock: 3, held: 0, quantity: 3 });
    expect((await change(p.id, { quantity: 1 })).json()).toMatchObject({ stock: 1, quantity: 1 });
    // Carts see the new stock at once (the mirror moved with the change).
    expect((await hold(p.id, 2)).statusCode).toBe(409);
    expect((await hold(p.id, 1)).statusCode).toBe(200);
    expect((await change(p.id, { delta: -1 })).json()).toMatchObject({ code: 'conflict', detail: expect.stringMatching(/1 units held in carts/) });
    expect((await change(p.id, { delta: -2 })).json()).toMatchObject({ code: 'conflict', detail: 'Stock cannot go below zero' });
    expect((await hold(p.id, 0)).statusCode).toBe(200);
    // Unknown and archived products: 404, nothing held.
    expect((await change('0190a0a0-0000-7000-8000-000000000000', { delta: -1 })).statusCode).toBe(404);
    const gone = await createProduct(t, { stock: 3, archived: true });
    expect((await change(gone.id, { quantity: 0 })).statusCode).toBe(404);
  });

  it('is for staff only; an unknown or archived product is 404', async () => {
    const p = await createProduct(t, { stock: 1 });
    expect((await inventory(alice, p.id)).json().code).toBe('forbidden');
    const gone = await createProduct(t, { stock: 1, archived: true });
    expect((await inventory(staff, gone.id)).statusCode).toBe(404);
    expect((await inventory(staff, '0190a0a0-0000-7000-8000-000000000000')).json().code).toBe('not_found');
  });
});

describe('GET inventory/low/', () => {
  it('lists live products at or below the threshold, least stock first, with held units', async () => {
    const low = await createProduct(t, { stock: 0, name: 'Sold out' });
    const two = await createProduct(t, { stock: 2, name: 'Two left' });
    await createProduct(t, { stock: 1, name: 'Archived', archived: true });
    await createProduct(t, { stock: 500, name: 'Plenty' });
    expect((await hold(two.id, 1)).statusCode).toBe(200);
    const lowStock = () => t.app.inject({ method: 'GET', url: '/api/catalog/inventory/low/?max_stock=2&limit=100', headers: staff.auth });
    // The list may come from a replica, a moment behind: wait for it to have the new products.
    await expect.poll(async () => (await lowStock()).json().some((r: { id: string }) => r.id === two.id), { timeout: 10_000 }).toBe(true);
    const res = await lowStock();
    expect(res.statusCode).toBe(200);
    const rows = res.json() as { id: string; name: string; stock: number; held: number }[];
    expect(rows.map((r) => r.stock)).toEqual([...rows.map((r) => r.stock)].sort((a, b) => a - b));
    expect(rows.every((r) => r.stock <= 2)).toBe(true);
    expect(rows.map((r) => r.name)).not.toContain('Archived');
    expect(rows.find((r) => r.id === low.id)).toMatchObject({ stock: 0, held: 0 });
    expect(rows.find((r) => r.id === two.id)).toMatchObject({ stock: 2, held: 1, quantity: 1 });
    expect((await hold(two.id, 0)).statusCode).toBe(200);
  });

  it('is for staff only and checks its parameters', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/catalog/inventory/low/', headers: alice.auth })).statusCode).toBe(403);
    const bad = await t.app.inject({ method: 'GET', url: '/api/catalog/inventory/low/?max_stock=-1', headers: staff.auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('validation_failed');
  });
});
