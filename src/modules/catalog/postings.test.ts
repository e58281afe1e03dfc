/**
 * Search reads postings (migrations/0220_catalog_search_postings.sql), not products: every change
 * a shop makes to a product — name, description, price, category, stock crossing zero, archive,
 * a category deleted — must show in the very next search's results, count and facets.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;
// Letters only, unlike anything else in the catalog: a word of its own for this file.
const tag = () => `zp${randomUUID().replace(/[^a-f]/g, '').slice(0, 8)}`;

beforeAll(async () => {
  t = await buildTestApp();
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
});
afterAll(() => t.close());

async function staffCall(method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) {
  const res = await t.app.inject({ method, url, headers: staff.auth, ...(payload ? { payload } : {}) });
  expect(res.statusCode, res.body).toBeLessThan(300);
  return res.statusCode === 204 ? undefined : (res.json() as { id: string });
}

interface SearchAnswer {
  count: number;
  results: Array<{ id: string; name: string; price: string; category: string | null }>;
  facets: { category: Array<{ slug: string; count: number }>; price: Array<{ min: string; max: string; count: number }> };
}

async function search(words: string, extra = '') {
  const res = await t.app.inject({
    method: 'GET',
    url: `/api/catalog/products/?search=${encodeURIComponent(words)}&facets=category,price${extra}`,
    headers: customer.auth,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as SearchAnswer;
}

async function suggest(typed: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/catalog/suggest/?q=${encodeURIComponent(typed)}`, headers: customer.auth });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as Array<{ name: string }>).map((s) => s.name);
}

describe('search follows every product change', () => {
  it('renames, re-describes, re-prices, moves, sells out, restocks and archives', async () => {
    const word = tag();
    const other = tag();
    const first = `c-${randomUUID().slice(0, 8)}`;
    const second = `c-${randomUUID().slice(0, 8)}`;
    await staffCall('POST', '/api/catalog/categories/', { slug: first, name: 'First' });
    await staffCall('POST', '/api/catalog/categories/', { slug: second, name: 'Second' });
    const kept = await staffCall('POST', '/api/catalog/products/', { name: `${word} Kettle`, price: '20.00', quantity: 3, category: first });
    const moved = await staffCall('POST', '/api/catalog/products/', { name: `${word} Teapot`, price: '30.00', quantity: 3, category: first });

    let found = await search(word);
    expect(found.count).toBe(2);
    expect(found.facets.category).toEqual([{ slug: first, name: 'First', count: 2 }]);

    // Renamed away from the word: gone from it, found by its new name (and as a suggestion).
    await staffCall('PATCH', `/api/catalog/products/${moved!.id}/`, { name: `${other} Teapot` });
    found = await search(word);
    expect(found.results.map((r) => r.id)).toEqual([kept!.id]);
    expect((await search(other)).results.map((r) => r.id)).toEqual([moved!.id]);
    expect(await suggest(other.slice(0, 6))).toEqual([`${other} Teapot`]);

    // The word now only in the description still matches, below a name match.
    await staffCall('PATCH', `/api/catalog/products/${moved!.id}/`, { description: `Goes with the ${word} Kettle` });
    found = await search(word);
    expect(found.results.map((r) => r.id)).toEqual([kept!.id, moved!.id]);

    // Price and category: the filters and facets follow.
    await staffCall('PATCH', `/api/catalog/products/${moved!.id}/`, { price: '55.00', category: second });
    found = await search(word);
    expect(found.facets.category).toEqual([
      { slug: first, name: 'First', count: 1 },
      { slug: second, name: 'Second', count: 1 },
    ]);
    expect((await search(word, '&min_price=50')).results.map((r) => r.id)).toEqual([moved!.id]);
    expect((await search(word, `&category=${first}`)).results.map((r) => r.id)).toEqual([kept!.id]);

    // Sold out: hidden from the default (in stock) search, shown with in_stock=false; back on restock.
    await staffCall('POST', `/api/catalog/products/${kept!.id}/inventory/`, { quantity: 0 });
    expect((await search(word)).results.map((r) => r.id)).toEqual([moved!.id]);
    expect((await search(word, '&in_stock=false')).count).toBe(2);
    await staffCall('POST', `/api/catalog/products/${kept!.id}/inventory/`, { delta: 4 });
    expect((await search(word)).count).toBe(2);

    // Its category deleted: the product stays, counted in no category.
    await staffCall('DELETE', `/api/catalog/categories/${second}/`);
    found = await search(word);
    expect(found.count).toBe(2);
    expect(found.facets.category).toEqual([{ slug: first, name: 'First', count: 1 }]);
    expect(found.results.find((r) => r.id === moved!.id)?.category).toBeNull();

    // Archived: gone from search, count, facets and suggestions.
    await staffCall('DELETE', `/api/catalog/products/${kept!.id}/`);
    found = await search(word);
    expect(found.results.map((r) => r.id)).toEqual([moved!.id]);
    expect(found.count).toBe(1);
    expect(found.facets.category).toEqual([]);
    expect(found.facets.price).toEqual([{ min: '55.00', max: expect.any(String), count: 1 }]);
    expect(await suggest(word)).toEqual([`${other} Teapot`]);
  });
});
