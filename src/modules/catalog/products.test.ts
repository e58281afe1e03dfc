import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;

beforeAll(async () => {
  t = await buildTestApp();
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
});
afterAll(() => t.close());

interface ProductBody {
  id: string;
  name: string;
  description: string;
  price: string;
  quantity: number;
  category: string | null;
}

const slugOf = () => `c-${randomUUID().slice(0, 8)}`;

async function category(slug = slugOf()) {
  const res = await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug, name: `Cat ${slug}` } });
  expect(res.statusCode).toBe(201);
  return slug;
}

async function product(fields: Partial<{ name: string; description: string; price: string; quantity: number; category: string | null }> = {}) {
  const payload = { name: `P ${randomUUID().slice(0, 6)}`, price: '10.00', quantity: 5, ...fields };
  const res = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as ProductBody;
}

const list = (query: string, headers = customer.auth) => t.app.inject({ method: 'GET', url: `/api/catalog/products/?${query}`, headers });

async function names(query: string) {
  const res = await list(query);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json().results as ProductBody[]).map((p) => p.name);
}

describe('staff management', () => {
  it('creates a product and answers it in the contract shape', async () => {
    const slug = await category();
    const body = await product({ name: 'Kenyan Coffee', description: 'Bright and fruity', price: '12.5', quantity: 7, category: slug });
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'Kenyan Coffee', description: 'Bright and fruity', price: '12.50', quantity: 7, category: slug });
    const detail = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${body.id}/`, headers: customer.auth });
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toEqual(body);
  });

  it('edits with PUT and PATCH', async () => {
    const p = await product({ description: 'old' });
    const put = await t.app.inject({ method: 'PUT', url: `/api/catalog/products/${p.id}/`, headers: staff.auth, payload: { name: 'Renamed', price: '3.00', quantity: 9 } });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({ name: 'Renamed', description: '', price: '3.00', quantity: 9, category: null });
    const patch = await t.app.inject({ method: 'PATCH', url: `/api/catalog/products/${p.id}`, headers: staff.auth, payload: { price: '4.25' } });
    expect(patch.statusCode).toBe(200);
    expect(patch.json()).toMatchObject({ name: 'Renamed', price: '4.25', quantity: 9 });
  });

  it('refuses an unknown category, a bad price and an empty patch with 400', async () => {
    const p = await product();
    for (const payload of [{ category: 'no-such-category' }, { price: '1.234' }, { price: 5 }, {}, { quantity: -1 }]) {
      const res = await t.app.inject({ method: 'PATCH', url: `/api/catalog/products/${p.id}/`, headers: staff.auth, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('validation_failed');
    }
  });

  it('archives: 204, then gone from the list and 404 on detail', async () => {
    const p = await product({ name: `Archived ${randomUUID()}` });
    const del = await t.app.inject({ method: 'DELETE', url: `/api/catalog/products/${p.id}/`, headers: staff.auth });
    expect(del.statusCode).toBe(204);
    expect(await names(`search=${encodeURIComponent(p.name)}`)).toEqual([]);
    const detail = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: customer.auth });
    expect(detail.statusCode).toBe(404);
    const again = await t.app.inject({ method: 'DELETE', url: `/api/catalog/products/${p.id}/`, headers: staff.auth });
    expect(again.statusCode).toBe(404);
  });

  it('answers 404 for an unknown id on every product route, 400 for a malformed one', async () => {
    const id = '01900000-0000-7000-8000-000000000000';
    const calls = [
      { method: 'GET' as const, url: `/api/catalog/products/${id}/`, headers: customer.auth },
      { method: 'PATCH' as const, url: `/api/catalog/products/${id}/`, headers: staff.auth, payload: { name: 'x' } },
      { method: 'PUT' as const, url: `/api/catalog/products/${id}/`, headers: staff.auth, payload: { name: 'x', price: '1.00', quantity: 1 } },
      { method: 'DELETE' as const, url: `/api/catalog/products/${id}/`, headers: staff.auth },
      { method: 'POST' as const, url: `/api/catalog/products/${id}/inventory/`, headers: staff.auth, payload: { delta: 1 } },
    ];
    for (const call of calls) {
      const res = await t.app.inject(call);
      expect(res.statusCode, `${call.method} ${res.body}`).toBe(404);
      expect(res.json().code).toBe('not_found');
    }
    const bad = await t.app.inject({ method: 'GET', url: '/api/catalog/products/not-a-uuid/', headers: customer.auth });
    expect(bad.statusCode).toBe(400);
  });

  it('answers 403 to a customer on every write and 401 without a token', async () => {
    const p = await product();
    const writes = [
      { method: 'POST' as const, url: '/api/catalog/products/', payload: { name: 'x', price: '1.00', quantity: 1 } },
      { method: 'PUT' as const, url: `/api/catalog/products/${p.id}/`, payload: { name: 'x', price: '1.00', quantity: 1 } },
      { method: 'PATCH' as const, url: `/api/catalog/products/${p.id}/`, payload: { price: '0.01' } },
      { method: 'DELETE' as const, url: `/api/catalog/products/${p.id}/` },
      { method: 'POST' as const, url: `/api/catalog/products/${p.id}/inventory/`, payload: { delta: 5 } },
      { method: 'POST' as const, url: '/api/catalog/categories/', payload: { slug: 'sneaky', name: 'Sneaky' } },
      { method: 'PATCH' as const, url: '/api/catalog/categories/sneaky/', payload: { name: 'x' } },
      { method: 'DELETE' as const, url: '/api/catalog/categories/sneaky/' },
    ];
    for (const call of writes) {
      const res = await t.app.inject({ ...call, headers: customer.auth });
      expect(res.statusCode, `${call.method} ${call.url}`).toBe(403);
      expect(res.json().code).toBe('forbidden');
    }
    expect((await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: customer.auth })).json().price).toBe('10.00');
    expect((await t.app.inject({ method: 'GET', url: '/api/catalog/products/' })).statusCode).toBe(401);
  });
});

describe('inventory', () => {
  const inventory = (id: string, payload: object) => t.app.inject({ method: 'POST', url: `/api/catalog/products/${id}/inventory/`, headers: staff.auth, payload });

  it('restocks, writes off and sets, never below zero', async () => {
    const p = await product({ quantity: 5 });
    expect((await inventory(p.id, { delta: 3 })).json().quantity).toBe(8);
    expect((await inventory(p.id, { delta: -8 })).json().quantity).toBe(0);
    const below = await inventory(p.id, { delta: -1 });
    expect(below.statusCode).toBe(409);
    expect(below.json().code).toBe('conflict');
    expect((await inventory(p.id, { quantity: 12 })).json().quantity).toBe(12);
    expect((await inventory(p.id, { quantity: -1 })).statusCode).toBe(400);
    expect((await inventory(p.id, { delta: 1, quantity: 1 })).statusCode).toBe(400);
    expect((await inventory(p.id, {})).statusCode).toBe(400);
    const detail = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: customer.auth });
    expect(detail.json().quantity).toBe(12);
  });
});

describe('categories', () => {
  it('lists, creates, renames, refuses duplicates and deletes (products keep existing, uncategorized)', async () => {
    const slug = await category();
    const dup = await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug, name: 'Again' } });
    expect(dup.statusCode).toBe(409);
    const p = await product({ category: slug });
    const renamed = await t.app.inject({ method: 'PATCH', url: `/api/catalog/categories/${slug}/`, headers: staff.auth, payload: { name: 'Renamed' } });
    expect(renamed.json()).toEqual({ slug, name: 'Renamed' });
    const all = await t.app.inject({ method: 'GET', url: '/api/catalog/categories/', headers: customer.auth });
    expect(all.json()).toContainEqual({ slug, name: 'Renamed' });
    const bad = await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug: 'Not A Slug', name: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/catalog/categories/${slug}/`, headers: staff.auth })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/catalog/categories/${slug}/`, headers: staff.auth })).statusCode).toBe(404);
    const detail = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: customer.auth });
    expect(detail.json().category).toBeNull();
  });
});

describe('freshness and ETags', () => {
  it('shows a price change in the very next list and detail read, with the cache warm', async () => {
    const slug = await category();
    const p = await product({ category: slug, price: '5.00' });
    for (let i = 0; i < 2; i++) expect((await list(`category=${slug}`)).json().results[0].price).toBe('5.00');
    await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: customer.auth });
    for (const price of ['6.00', '6.50', '0.99']) {
      const res = await t.app.inject({ method: 'PATCH', url: `/api/catalog/products/${p.id}/`, headers: staff.auth, payload: { price } });
      expect(res.statusCode).toBe(200);
      expect((await list(`category=${slug}`)).json().results[0].price).toBe(price);
      expect((await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: customer.auth })).json().price).toBe(price);
    }
  });

  it('answers 304 to a matching If-None-Match on list and detail, 200 once something changed', async () => {
    const slug = await category();
    const p = await product({ category: slug });
    for (const url of [`/api/catalog/products/?category=${slug}`, `/api/catalog/products/${p.id}/`]) {
      const first = await t.app.inject({ method: 'GET', url, headers: customer.auth });
      const etag = first.headers.etag as string;
      expect(etag).toMatch(/^".+"$/);
      const again = await t.app.inject({ method: 'GET', url, headers: { ...customer.auth, 'if-none-match': etag } });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe('');
      const other = await t.app.inject({ method: 'GET', url, headers: { ...customer.auth, 'if-none-match': '"nope"' } });
      expect(other.statusCode).toBe(200);
    }
    await t.app.inject({ method: 'POST', url: `/api/catalog/products/${p.id}/inventory/`, headers: staff.auth, payload: { delta: 1 } });
    const url = `/api/catalog/products/${p.id}/`;
    const before = await t.app.inject({ method: 'GET', url, headers: customer.auth });
    expect(before.json().quantity).toBe(6);
  });
});
