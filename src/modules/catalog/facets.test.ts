/**
 * Facet counts and type-ahead suggestions, as the app asks for them beside a search: counts over
 * everything that matches (not just the page), rounded price bands, and at most ten names.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { queryRows, sql } from '../../platform/db.ts';
import { bandWidthSql } from './facets.ts';
import { plainWords } from './expansion.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;
const word = `zq${randomUUID().slice(0, 6).replace(/[0-9]/g, 'x')}`;
let teas: string;
let cups: string;

async function post(url: string, payload: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url, headers: staff.auth, payload });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; name: string };
}

async function get(url: string) {
  const res = await t.app.inject({ method: 'GET', url, headers: customer.auth });
  return res;
}

beforeAll(async () => {
  t = await buildTestApp();
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
  teas = `teas-${randomUUID().slice(0, 6)}`;
  cups = `cups-${randomUUID().slice(0, 6)}`;
  await post('/api/catalog/categories/', { slug: teas, name: 'Teas' });
  await post('/api/catalog/categories/', { slug: cups, name: 'Cups' });
  // 12 teas from 3.00 to 47.00, 3 cups at 8.00, one sold out (hidden by in_stock) at 99.00.
  for (let i = 0; i < 12; i++) await post('/api/catalog/products/', { name: `${word} Green Tea ${i}`, price: `${3 + i * 4}.00`, quantity: 5, category: teas });
  for (let i = 0; i < 3; i++) await post('/api/catalog/products/', { name: `${word} Tea Cup ${i}`, price: '8.00', quantity: 5, category: cups });
  await post('/api/catalog/products/', { name: `${word} Gold Tea`, price: '99.00', quantity: 0, category: teas });
}, 120_000);
afterAll(() => t.close());

describe('facets', () => {
  it('counts categories and rounded price bands over every match, beside one page', async () => {
    const res = await get(`/api/catalog/products/?search=${word}&limit=2&facets=category,price`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.results).toHaveLength(2);
    expect(body.count).toBe(15);
    expect(body.facets.category).toEqual([
      { slug: teas, name: 'Teas', count: 12 },
      { slug: cups, name: 'Cups', count: 3 },
    ]);
    // 3.00–47.00: bands 10.00 wide from 0.00; the cups' 8.00 falls in the first.
    expect(body.facets.price).toEqual([
      { min: '0.00', max: '10.00', count: 5 },
      { min: '10.00', max: '20.00', count: 3 },
      { min: '20.00', max: '30.00', count: 2 },
      { min: '30.00', max: '40.00', count: 3 },
      { min: '40.00', max: '50.00', count: 2 },
    ]);
    expect(body.facets.price.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(15);
    // The links keep asking for the facets.
    expect(new URL(body.next).searchParams.get('facets')).toBe('category,price');
  });

  it('follows the filters: a category and a price range narrow the counts', async () => {
    const body = (await get(`/api/catalog/products/?search=${word}&category=${teas}&max_price=20&facets=price`)).json();
    expect(body.facets.category).toBeUndefined();
    expect(body.facets.price.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(5);
    expect(body.count).toBe(5);
  });

  it('counts facets without a search too (the filters alone)', async () => {
    const body = (await get(`/api/catalog/products/?category=${teas}&facets=category,price`)).json();
    expect(body.facets.category).toEqual([{ slug: teas, name: 'Teas', count: 12 }]);
    expect(body.facets.price).toEqual([
      { min: '0.00', max: '10.00', count: 2 },
      { min: '10.00', max: '20.00', count: 3 },
      { min: '20.00', max: '30.00', count: 2 },
      { min: '30.00', max: '40.00', count: 3 },
      { min: '40.00', max: '50.00', count: 2 },
    ]);
  });

  it('answers no facets when not asked, and empty ones when nothing matches', async () => {
    expect((await get(`/api/catalog/products/?search=${word}`)).json().facets).toBeUndefined();
    const none = (await get(`/api/catalog/products/?search=${word}xyzzyq&facets=category,price`)).json();
    expect(none.facets).toEqual({ category: [], price: [] });
  });

  it('refuses an unknown facet with 400', async () => {
    const res = await get(`/api/catalog/products/?search=${word}&facets=colour`);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('answers facets from the cache only until a staff change: a new product and a sell-out show at once', async () => {
    const own = `zv${randomUUID().slice(0, 6).replace(/[0-9]/g, 'y')}`;
    const first = await post('/api/catalog/products/', { name: `${own} Mug`, price: '5.00', quantity: 2, category: cups });
    const facets = async (search: string) => {
      const res = await get(`/api/catalog/products/?search=${encodeURIComponent(search)}&limit=1&facets=category,price`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { count: number; facets: { category: unknown; price: unknown } };
      return { count: body.count, ...body.facets };
    };
    expect(await facets(own)).toEqual({ count: 1, category: [{ slug: cups, name: 'Cups', count: 1 }], price: [{ min: '5.00', max: '5.01', count: 1 }] });
    // Another spelling of the same words: the same matches, the same answer.
    expect(await facets(`${own.toUpperCase()}!`)).toEqual(await facets(own));
    await post('/api/catalog/products/', { name: `${own} Teapot`, price: '25.00', quantity: 1, category: teas });
    expect(await facets(own)).toEqual({
      count: 2,
      category: [{ slug: cups, name: 'Cups', count: 1 }, { slug: teas, name: 'Teas', count: 1 }],
      price: [{ min: '5.00', max: '10.00', count: 1 }, { min: '20.00', max: '25.00', count: 1 }],
    });
    const soldOut = await t.app.inject({ method: 'POST', url: `/api/catalog/products/${first.id}/inventory/`, headers: staff.auth, payload: { quantity: 0 } });
    expect(soldOut.statusCode, soldOut.body).toBe(200);
    expect(await facets(own)).toEqual({ count: 1, category: [{ slug: teas, name: 'Teas', count: 1 }], price: [{ min: '25.00', max: '25.01', count: 1 }] });
  });

  it('rounds band widths to 1, 2, 2.5 or 5 times a power of ten', async () => {
    const width = async (range: number) =>
      Number((await queryRows<{ w: number }>(t.database.db.primary, sql`select ${bandWidthSql(sql`${range}::bigint`)} as w`))[0]!.w);
    const cases: Array<[number, number]> = [[4400, 1000], [0, 1], [120_000, 25_000], [333, 100], [5000, 1000], [5001, 2000], [10, 2], [3, 1], [12_345_678, 2_500_000]];
    for (const [range, expected] of cases) expect(await width(range), String(range)).toBe(expected);
  });
});

describe('suggestions', () => {
  it('suggests at most ten in-stock names for a half-typed, misspelt query', async () => {
    const res = await get(`/api/catalog/suggest/?q=${encodeURIComponent(`${word} gre`)}`);
    expect(res.statusCode, res.body).toBe(200);
    const found = res.json() as Array<{ id: string; name: string }>;
    expect(found).toHaveLength(10);
    expect(found.every((s) => s.name.includes('Green Tea'))).toBe(true);
    expect(Object.keys(found[0]!).sort()).toEqual(['id', 'name']);
    const cup = (await get(`/api/catalog/suggest/?q=${encodeURIComponent(`cupz ${word}`)}`)).json() as Array<{ name: string }>;
    expect(cup.map((s) => s.name).sort()).toEqual([`${word} Tea Cup 0`, `${word} Tea Cup 1`, `${word} Tea Cup 2`]);
    expect((await get(`/api/catalog/suggest/?q=${word}%20gold`)).json()).toEqual([]);
  });

  it('finds a word new to the catalog, and a new word a typed prefix begins, right after the staff change that brings it', async () => {
    const fresh = `zw${randomUUID().slice(0, 8).replace(/[0-9]/g, 'k')}`;
    const names = async (q: string) => ((await get(`/api/catalog/suggest/?q=${encodeURIComponent(q)}`)).json() as Array<{ name: string }>).map((s) => s.name);
    // Asked first, so the expansions of both (nothing yet) are remembered.
    expect(await names(fresh)).toEqual([]);
    expect(await names(`${word} ${fresh.slice(0, 6)}`)).toEqual([]);
    await post('/api/catalog/products/', { name: `${word} ${fresh} Kettle`, price: '30.00', quantity: 3, category: cups });
    expect(await names(fresh)).toEqual([`${word} ${fresh} Kettle`]);
    expect(await names(`${word} ${fresh.slice(0, 6)}`)).toEqual([`${word} ${fresh} Kettle`]);
    const search = (await get(`/api/catalog/products/?search=${fresh}`)).json() as { count: number };
    expect(search.count).toBe(1);
    await post('/api/catalog/products/', { name: `${word} ${fresh} Kettle Large`, price: '40.00', quantity: 3, category: cups });
    expect((await names(`${fresh} kettle`)).sort()).toEqual([`${word} ${fresh} Kettle`, `${word} ${fresh} Kettle Large`]);
  });

  it('splits a plain ASCII query into the very words the database does (the expansion cache relies on it)', async () => {
    const texts = ['Earl-Grey  TEA!!', 'a_b c.d', 'x9 9x 10 010', 'Zebra apple Apple zebra', 'one two three four five six seven eight nine ten', '  ', '...', 'teas, gren; Tea Green'];
    for (const text of texts) {
      const rows = await queryRows<{ w: string[] }>(t.database.db.primary, sql`select (catalog.search_words(${text}))[1:8] as w`);
      expect(plainWords(text), text).toEqual(rows[0]!.w);
    }
    expect(plainWords('Crème brûlée')).toBeNull();
  });

  it('answers bad input with 400', async () => {
    for (const url of ['/api/catalog/suggest/', '/api/catalog/suggest/?q=', `/api/catalog/suggest/?q=${'a'.repeat(101)}`]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
    }
  });
});
