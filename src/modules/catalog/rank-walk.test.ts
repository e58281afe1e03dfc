/**
 * A one-word search's relevance page is walked class by class (rank-walk.ts), not ranked in full:
 * the pages must still be exactly the full ranking — rank (exact > prefix > typo, name >
 * description, a product's best candidate) then id — however products tie, whichever way they
 * are paged (offset, cursor forward, cursor back) and filtered. The expected ranking is computed
 * here from what each product was given, by the rules, not by the code under test.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let customer: TestUser;

// A word of this file's own: consonants ending in `k`, so its only inflection is `+s` (no `m`,
// which its typos put in place of the last letters).
const T = `zq${Array.from({ length: 5 }, () => 'bcdfghjlnpqrtvw'[randomInt(15)]).join('')}k`;
const W = {
  exact: T,
  plural: `${T}s`,
  prefixA: `${T}ab`,
  prefixB: `${T}cd`,
  typo1: `${T.slice(0, -1)}m`,
  typo2: `${T.slice(0, -2)}mm`,
};
const CLASS: Record<string, [name: number, description: number]> = {
  [W.exact]: [6, 5],
  [W.plural]: [6, 5],
  [W.prefixA]: [4, 3],
  [W.prefixB]: [4, 3],
  [W.typo1]: [2, 1],
  [W.typo2]: [2, 1],
};

/** [words in the name, words in the description]: each placed three times (ties). */
const PLACEMENTS: Array<[string[], string[]]> = [
  [[W.exact], []],
  [[W.plural], []],
  [[W.exact, W.plural], []],
  [[W.exact], [W.typo1]],
  [[], [W.exact]],
  [[], [W.exact, W.plural]],
  [[W.prefixA], [W.plural]],
  [[W.typo1], [W.exact]],
  [[W.prefixA], []],
  [[W.prefixA, W.prefixB], []],
  [[W.prefixB], [W.prefixA]],
  [[], [W.prefixA]],
  [[], [W.prefixA, W.prefixB]],
  [[W.typo1], []],
  [[W.typo2], [W.typo1]],
  [[], [W.typo1]],
  [[], [W.typo2]],
];

interface Made {
  id: string;
  rank: number;
  inStock: boolean;
  category: string | null;
}
const made: Made[] = [];
const CATEGORY = `walk-${T}`;

beforeAll(async () => {
  t = await buildTestApp();
  const staff = await createUser(t, { staff: true });
  customer = await createUser(t);
  const res = await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug: CATEGORY, name: 'Walk' } });
  expect(res.statusCode, res.body).toBe(201);
  await Promise.all(
    PLACEMENTS.flatMap(([name, description], p) =>
      [0, 1, 2].map(async (copy) => {
        const inStock = copy !== 2 || p % 2 === 0;
        const category = copy === 0 ? CATEGORY : null;
        const created = await t.app.inject({
          method: 'POST',
          url: '/api/catalog/products/',
          headers: staff.auth,
          payload: { name: ['Jar', ...name].join(' '), description: ['Plain', ...description].join(' '), price: '2.00', quantity: inStock ? 4 : 0, ...(category ? { category } : {}) },
        });
        expect(created.statusCode, created.body).toBe(201);
        const rank = Math.max(...name.map((w) => CLASS[w]![0]), ...description.map((w) => CLASS[w]![1]));
        made.push({ id: (created.json() as { id: string }).id, rank, inStock, category });
      }),
    ),
  );
}, 120_000);
afterAll(() => t.close());

/** The full ranking by the rules: rank, best first, then id (PostgreSQL orders uuids as their hex). */
const expected = (keep: (m: Made) => boolean) =>
  made.filter(keep).sort((a, b) => b.rank - a.rank || (a.id < b.id ? -1 : 1)).map((m) => m.id);

interface Page {
  count?: number;
  next: string | null;
  previous: string | null;
  results: Array<{ id: string }>;
}

async function get(url: string): Promise<Page> {
  const u = new URL(url, 'http://localhost');
  const res = await t.app.inject({ method: 'GET', url: u.pathname + u.search, headers: customer.auth });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Page;
}

async function walk(first: string, link: 'next' | 'previous') {
  const seen: string[] = [];
  let url: string | null = first;
  for (let guard = 0; url && guard < 100; guard++) {
    const page: Page = await get(url);
    seen.push(...page.results.map((r) => r.id));
    url = page[link];
  }
  return seen;
}

describe('a one-word relevance page is the full ranking', () => {
  it('ties included, by offset pages', async () => {
    const all = expected((m) => m.inStock);
    expect(new Set(made.map((m) => m.rank))).toEqual(new Set([6, 5, 4, 3, 2, 1]));
    expect((await get(`/api/catalog/products/?search=${T}&limit=5`)).count).toBe(all.length);
    expect(await walk(`/api/catalog/products/?search=${T}&limit=5&offset=0`, 'next')).toEqual(all);
    expect((await get(`/api/catalog/products/?search=${T}&limit=100`)).results.map((r) => r.id)).toEqual(all);
  });

  it('by cursor, forward and back', async () => {
    const all = expected((m) => m.inStock);
    const forward = await walk(`/api/catalog/products/?search=${T}&limit=4&cursor=`, 'next');
    expect(forward).toEqual(all);
    // From the last page back along `previous` links: the same products, page by page.
    let url: string | null = `/api/catalog/products/?search=${T}&limit=4&cursor=`;
    let last: Page | undefined;
    for (let guard = 0; url && guard < 100; guard++) {
      last = await get(url);
      url = last.next;
    }
    const back: string[][] = [];
    let page: Page = last!;
    back.unshift(page.results.map((r) => r.id));
    while (page.previous) {
      page = await get(page.previous);
      back.unshift(page.results.map((r) => r.id));
    }
    expect(back.flat()).toEqual(all);
  });

  it('with the sold-out products and with a category', async () => {
    expect(await walk(`/api/catalog/products/?search=${T}&in_stock=false&limit=7&cursor=`, 'next')).toEqual(expected(() => true));
    expect(await walk(`/api/catalog/products/?search=${T}&category=${CATEGORY}&limit=3&offset=0`, 'next')).toEqual(expected((m) => m.inStock && m.category === CATEGORY));
  });
});
