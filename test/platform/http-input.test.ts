/**
 * Input every route gets right because the platform handles it once (issue 13, defects 2 and 4):
 *  - a bodiless request that says `Content-Type: application/json` is the same as one without it;
 *  - a NUL character (U+0000) in any text is a 400 naming the field, never the database's 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
let alice: TestUser;
let staff: TestUser;

beforeAll(async () => {
  t = await buildTestApp();
  [alice, staff] = await Promise.all([createUser(t), createUser(t, { staff: true })]);
});
afterAll(() => t?.close());

const json = { 'content-type': 'application/json' };

describe('a bodiless request with Content-Type: application/json', () => {
  it('clears the cart, checks out, cancels and archives as it would without the header', async () => {
    const product = await createProduct(t, { stock: 5 });
    const put = await t.app.inject({ method: 'PUT', url: `/api/cart/items/${product.id}/`, headers: alice.auth, payload: { quantity: 2 } });
    expect(put.statusCode).toBe(200);

    const clear = await t.app.inject({ method: 'DELETE', url: '/api/cart/', headers: { ...alice.auth, ...json }, payload: '' });
    expect(clear.statusCode).toBe(204);

    await t.app.inject({ method: 'PUT', url: `/api/cart/items/${product.id}/`, headers: alice.auth, payload: { quantity: 2 } });
    const checkout = await t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: { ...alice.auth, ...json }, payload: '' });
    expect(checkout.statusCode).toBe(201);
    expect(await stockOf(t, product.id)).toBe(3);

    const cancel = await t.app.inject({
      method: 'POST',
      url: `/api/orders/orders/${checkout.json().id}/cancel/`,
      headers: { ...alice.auth, ...json },
      payload: '',
    });
    expect(cancel.statusCode).toBe(200);
    expect(await stockOf(t, product.id)).toBe(5);

    const remove = await t.app.inject({ method: 'DELETE', url: `/api/cart/items/${product.id}/`, headers: { ...alice.auth, ...json }, payload: '' });
    expect(remove.statusCode).toBe(200);

    const archive = await t.app.inject({ method: 'DELETE', url: `/api/catalog/products/${product.id}/`, headers: { ...staff.auth, ...json }, payload: '' });
    expect(archive.statusCode).toBe(204);
  });

  it('still refuses an empty body where the route needs one, as a missing body (400 naming it)', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/token/', headers: json, payload: '' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed' });
    const malformed = await t.app.inject({ method: 'POST', url: '/api/identity/token/', headers: json, payload: '{"username":' });
    expect(malformed.statusCode).toBe(400);
  });
});

describe('a NUL character in text input', () => {
  const expectNulRefused = (res: { statusCode: number; headers: Record<string, unknown>; json: () => { code: string; errors: Array<{ field: string }> } }, field: string) => {
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('validation_failed');
    expect(res.json().errors.map((e) => e.field)).toContain(field);
  };

  it('is refused at sign-in and sign-up, before any account is looked up', async () => {
    expectNulRefused(await t.app.inject({ method: 'POST', url: '/api/identity/token/', payload: { username: 'a\u0000b', password: 'x' } }), 'username');
    expectNulRefused(
      await t.app.inject({ method: 'POST', url: '/api/identity/register/', payload: { username: 'nul\u0000user', email: 'nul@example.com', password: 'pw-long-enough-1234' } }),
      'username',
    );
  });

  it('is refused in a search, a profile and staff writes, which change nothing', async () => {
    expectNulRefused(await t.app.inject({ method: 'GET', url: '/api/catalog/products/?search=%00', headers: alice.auth }), 'search');
    expectNulRefused(await t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: alice.auth, payload: { last_name: 'O\u0000Brien' } }), 'last_name');
    const me = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: alice.auth });
    expect(me.json().last_name).not.toContain('\u0000');

    const product = await t.app.inject({
      method: 'POST',
      url: '/api/catalog/products/',
      headers: staff.auth,
      payload: { name: 'Bad\u0000name', price: '1.00', stock: 1 },
    });
    expectNulRefused(product, 'name');
    expectNulRefused(await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug: 'nul-cat', name: 'N\u0000' } }), 'name');
    const categories = await t.app.inject({ method: 'GET', url: '/api/catalog/categories/', headers: alice.auth });
    expect(categories.json().map((c: { slug: string }) => c.slug)).not.toContain('nul-cat');
  });

  it('is refused in path parameters and nested fields, with the path of the field', async () => {
    expectNulRefused(await t.app.inject({ method: 'PATCH', url: '/api/catalog/categories/%00/', headers: staff.auth, payload: { name: 'x' } }), 'slug');
    const order = await t.app.inject({
      method: 'POST',
      url: '/api/orders/orders/',
      headers: alice.auth,
      payload: { order_items: [{ product: '0\u0000', quantity: 1 }] },
    });
    expectNulRefused(order, 'order_items/0/product');
  });
});
