import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { createCatalogService } from './service.ts';

let t: TestApp;
let staff: TestUser;
let customer: TestUser;

interface P {
  id: string;
  name: string;
  price: string;
  quantity: number;
  category: string | null;
  description: string;
}

beforeAll(async () => {
  t = await buildTestApp();
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
});
afterAll(() => t.close());

async function category() {
  const slug = `c-${randomUUID().slice(0, 8)}`;
  const res = await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug, name: slug } });
  expect(res.statusCode).toBe(201);
  return slug;
}

async function product(fields: Record<string, unknown>): Promise<P> {
  const res = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { price: '1.00', quantity: 3, ...fields } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

async function get(query: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/?${query}`, headers: customer.auth });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { count?: number; next: string | null; previous: string | null; results: P[] };
}

/** Follows `next` (or `previous`) links to the end, collecting every product. */
async function walk(first: string, link: 'next' | 'previous' = 'next') {
  const seen: P[] = [];
  let url: string | null = `/api/catalog/products/?${first}`;
  for (let guard = 0; url && guard < 100; guard++) {
    const u: URL = new URL(url, 'http://localhost');
    const res = await t.app.inject({ method: 'GET', url: u.pathname + u.search, headers: customer.auth });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    seen.push(...body.results);
    url = body[link];
  }
  return seen;
}

const cents = (p: P) => Math.round(Number(p.price) * 100);

describe('filters', () => {
  it('filters by category, price range, search and stock', async () => {
    const a = await category();
    const b = await category();
    const tag = randomUUID().slice(0, 8);
    const cheap = await product({ name: `Cheap ${tag}`, price: '2.00', category: a, description: 'Plain WIDGET' });
    const mid = await product({ name: `Mid ${tag}`, price: '5.50', category: a });
    const dear = await product({ name: `Dear ${tag}`, price: '9.99', category: b, description: `100%_real ${tag}` });
    const soldOut = await product({ name: `Gone ${tag}`, price: '5.00', category: a, quantity: 0 });

    const ids = (body: { results: P[] }) => body.results.map((p) => p.id).sort();
    expect(ids(await get(`category=${a}`))).toEqual([cheap.id, mid.id].sort());
    expect(ids(await get(`category=${a}&in_stock=false`))).toEqual([cheap.id, mid.id, soldOut.id].sort());
    expect(ids(await get(`search=${tag}&min_price=5&max_price=9.99`))).toEqual([mid.id, dear.id].sort());
    expect(ids(await get(`search=${tag}&max_price=5.00&in_stock=false`))).toEqual([cheap.id, soldOut.id].sort());
    // Case-insensitive, over the description too; % and _ are literal characters.
    expect(ids(await get(`search=widget&category=${a}`))).toEqual([cheap.id]);
    expect(ids(await get(`search=${encodeURIComponent('100%_REAL')}`))).toEqual([dear.id]);
    expect(ids(await get(`search=${encodeURIComponent('1%0')}`))).toEqual([]);
    expect((await get(`category=${a}`)).count).toBe(2);
    expect((await get('category=no-such-category')).results).toEqual([]);
  });

  it('answers bad parameters with 400', async () => {
    for (const query of [
      'offset=-1',
      'limit=abc',
      'limit=0',
      'limit=101',
      'min_price=x',
      'max_price=1.234',
      'ordering=colour',
      'in_stock=maybe',
      'cursor=not-a-cursor',
      'cursor=&offset=20',
      'category=Not%20A%20Slug',
    ]) {
      const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/?${query}`, headers: customer.auth });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().code).toBe('validation_failed');
    }
  });
});

describe('ordering and pages', () => {
  let slug: string;
  let all: P[];

  beforeAll(async () => {
    slug = await category();
    all = [];
    // Ties on purpose: 3 prices and 4 names over 13 products.
    for (let i = 0; i < 13; i++) all.push(await product({ name: `Item ${'ABCD'[i % 4]}`, price: ['3.00', '1.50', '2.25'][i % 3], category: slug }));
  });

  const compare = (key: (p: P) => string | number, desc: boolean) => (x: P, y: P) => {
    const [a, b] = [key(x), key(y)];
    const byKey = a < b ? -1 : a > b ? 1 : 0;
    const byId = x.id < y.id ? -1 : 1;
    return (desc ? -1 : 1) * (byKey !== 0 ? byKey : byId);
  };
  const expected: Record<string, (x: P, y: P) => number> = {
    name: compare((p) => p.name, false),
    '-name': compare((p) => p.name, true),
    price: compare(cents, false),
    '-price': compare(cents, true),
    // UUID v7 ids sort by creation time; products here were created one after another.
    created_at: compare(() => 0, false),
    '-created_at': compare(() => 0, true),
  };

  for (const ordering of Object.keys(expected)) {
    it(`orders by ${ordering} with id as tie-break; offset and cursor walks visit each product once`, async () => {
      const want = [...all].sort(expected[ordering]).map((p) => p.id);
      const first = await get(`category=${slug}&ordering=${ordering}&limit=100`);
      expect(first.results.map((p) => p.id)).toEqual(want);
      expect(first.count).toBe(13);

      const byOffset = await walk(`category=${slug}&ordering=${ordering}&limit=4`);
      expect(byOffset.map((p) => p.id)).toEqual(want);
      const byCursor = await walk(`category=${slug}&ordering=${ordering}&limit=4&cursor=`);
      expect(byCursor.map((p) => p.id)).toEqual(want);
    });
  }

  it('links pages with full URLs, offset `previous` and cursor `previous`', async () => {
    const page2 = await get(`category=${slug}&limit=5&offset=5`);
    expect(page2.count).toBe(13);
    expect(page2.next).toMatch(/^http:\/\/localhost(:\d+)?\/api\/catalog\/products\/\?.*offset=10/);
    expect(page2.previous).toMatch(/offset=0/);
    const last = await get(`category=${slug}&limit=5&offset=10`);
    expect(last.next).toBeNull();
    expect(last.results).toHaveLength(3);

    const cursorFirst = await get(`category=${slug}&limit=5&cursor=`);
    expect(cursorFirst.count).toBeUndefined();
    expect(cursorFirst.previous).toBeNull();
    // Walk forward to the end, then back through `previous`: the same products, mirrored.
    const forward = await walk(`category=${slug}&limit=5&cursor=`);
    let url: string | null = cursorFirst.next;
    let lastPage = cursorFirst;
    while (url) {
      const u: URL = new URL(url);
      lastPage = await get(u.search.slice(1));
      url = lastPage.next;
    }
    const prevUrl = new URL(lastPage.previous!);
    const backward = await walk(prevUrl.search.slice(1), 'previous');
    const backIds = backward.map((p) => p.id);
    const lastIds = lastPage.results.map((p) => p.id);
    // `previous` pages come back in forward order each; their union is everything before the last page.
    expect(new Set(backIds)).toEqual(new Set(forward.map((p) => p.id).filter((id) => !lastIds.includes(id))));
  });

  it('rejects a cursor used with another ordering', async () => {
    const page = await get(`category=${slug}&limit=2&cursor=&ordering=price`);
    const cursor = new URL(page.next!).searchParams.get('cursor')!;
    const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/?cursor=${cursor}&ordering=name`, headers: customer.auth });
    expect(res.statusCode).toBe(400);
  });
});

describe('live quantities', () => {
  it('subtracts units held in carts on list and detail, also on cached pages', async () => {
    const slug = await category();
    const p = await product({ name: 'Held A', category: slug, quantity: 10 });
    const other = await product({ name: 'Held B', category: slug, quantity: 4 });
    const held = new Map<string, number>();
    const calls: string[][] = [];
    const catalog = createCatalogService({
      platform: t.services,
      inventory: {
        ...t.services.inventory,
        heldUnits: async (ids: string[]) => {
          calls.push(ids);
          return new Map([...held].filter(([id]) => ids.includes(id)));
        },
      },
    });
    const query = { category: slug };
    const read = async () => JSON.parse(String((await catalog.listProducts({ query, baseUrl: 'http://x', path: '/api/catalog/products/' })).bytes));
    expect((await read()).results.map((r: P) => r.quantity)).toEqual([10, 4]);
    held.set(p.id, 3);
    held.set(other.id, 9);
    // Cached page: stock from the cache, holds applied live, one call per page.
    calls.length = 0;
    expect((await read()).results.map((r: P) => r.quantity)).toEqual([7, 0]);
    expect(calls).toEqual([[p.id, other.id]]);
    expect(JSON.parse(String((await catalog.getProduct(p.id)).bytes)).quantity).toBe(7);
  });
});
