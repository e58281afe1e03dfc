/**
 * The relevance table: a fixed catalog of about three hundred products, made through the staff
 * API, and what people type into a shop's search box — misspelt, half-typed, in another order,
 * without accents, in the plural — each with the product that must come first (or in the first
 * three where several are equally good answers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { queryRows, sql } from '../../platform/db.ts';

let t: TestApp;
let customer: TestUser;

/** The products a query is meant to find: [name, description]. */
const DISTINCT: Array<[string, string]> = [
  ['Organic Green Tea', 'Loose leaf sencha from Shizuoka'],
  ['Earl Grey Tea', 'Black tea with bergamot'],
  ['Chamomile Tea', 'Caffeine-free herbal infusion'],
  ['Crème Brûlée Mix', 'Vanilla custard dessert'],
  ['Café au Lait Pods', 'Coffee with milk, 10 capsules'],
  ['Jalapeño Crisps', 'Spicy tortilla chips'],
  ['Blueberries', 'Fresh berries, 125 g punnet'],
  ['Strawberry Jam', 'Made with whole fruit'],
  ['Sourdough Loaf', 'Slow-fermented bread'],
  ['Chocolate Croissant', 'Butter pastry with a dark filling'],
  ['Dark Chocolate 85%', 'Single origin cocoa from Ecuador'],
  ['Parmigiano Reggiano', 'Aged cheese, 24 months'],
  ['Extra Virgin Olive Oil', 'Cold pressed in Andalusia'],
  ['Basmati Rice', 'Long grain aromatic rice'],
  ['Chickpeas', 'Dried legumes'],
  ['Kombucha Ginger', 'Fermented tea drink'],
  ['Gingerbread Cookies', 'Spiced biscuits'],
  ['Greek Yogurt', 'Thick strained yogurt'],
  ['Peanut Butter', 'Crunchy, no added sugar'],
  ['Matcha Powder', 'Ceremonial grade green tea'],
  ['Espresso Beans', 'Dark roast coffee beans'],
  ['Avocados', 'Ripe Hass, pack of 4'],
  ['Açaí Bowl Mix', 'Frozen berry purée'],
  ['Smoked Salmon', 'Scottish, sliced'],
  ['Pistachio Ice Cream', 'Sicilian nuts'],
  ['Mozzarella di Bufala', 'Fresh from Campania'],
  ['Raspberry Sorbet', 'Dairy-free'],
  ['Wholewheat Spaghetti', 'Bronze-cut pasta'],
  ['Coconut Milk', 'For curries'],
  ['Maple Syrup', 'Grade A amber'],
];

// Filler that shares words with the products above (butter, milk, smoked, tea in descriptions),
// so each answer has to win on rank, not on being the only match.
const ADJECTIVES = ['Organic', 'Fresh', 'Classic', 'Artisan', 'Premium', 'Local', 'Smoked', 'Wild', 'Golden', 'Roasted', 'Spiced', 'Sweet', 'Mild', 'Bold', 'Rustic', 'Family'];
const NOUNS = ['Apple Juice', 'Rye Bread', 'Oat Drink', 'Trail Mix', 'Granola Bar', 'Almonds', 'Lemonade', 'Orange Juice', 'Penne Pasta', 'Bagel', 'Butter', 'Whole Milk', 'Spinach', 'Cold Brew', 'Decaf Blend', 'Honey'];
const ORIGINS = ['Kenya', 'Italy', 'Spain', 'Wales', 'Vermont', 'Crete'];

function filler(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  ADJECTIVES.forEach((adj, i) =>
    NOUNS.forEach((noun, j) => {
      const pairing = (i + j) % 5 === 0 ? ' Pairs well with tea.' : '';
      out.push([`${adj} ${noun}`, `${adj.toLowerCase()} ${noun.toLowerCase()} from ${ORIGINS[(i * 7 + j) % ORIGINS.length]}.${pairing}`]);
    }),
  );
  return out;
}

/** [query, expected product, where it must be]; null: nothing may match. */
const TABLE: Array<[string, string | null, 'first' | 'top3']> = [
  ['earl grey', 'Earl Grey Tea', 'first'],
  ['grey earl', 'Earl Grey Tea', 'first'],
  ['Earl Gray', 'Earl Grey Tea', 'first'],
  ['chamomille', 'Chamomile Tea', 'first'],
  ['camomile', 'Chamomile Tea', 'first'],
  ['creme brulee', 'Crème Brûlée Mix', 'first'],
  ['CRÈME', 'Crème Brûlée Mix', 'first'],
  ['cafe au lait', 'Café au Lait Pods', 'first'],
  ['jalapeno', 'Jalapeño Crisps', 'first'],
  ['blueberry', 'Blueberries', 'first'],
  ['strawberries', 'Strawberry Jam', 'first'],
  ['sourdough', 'Sourdough Loaf', 'first'],
  ['sourdoguh', 'Sourdough Loaf', 'first'],
  ['croissant chocolate', 'Chocolate Croissant', 'first'],
  ['choc', 'Dark Chocolate 85%', 'top3'],
  ['reggiano parmigiano', 'Parmigiano Reggiano', 'first'],
  ['parmigano', 'Parmigiano Reggiano', 'first'],
  ['olive oil', 'Extra Virgin Olive Oil', 'first'],
  ['oil olive extra', 'Extra Virgin Olive Oil', 'first'],
  ['basmatti', 'Basmati Rice', 'first'],
  ['chickpea', 'Chickpeas', 'first'],
  ['ginger', 'Kombucha Ginger', 'first'],
  ['gingerbread cookie', 'Gingerbread Cookies', 'first'],
  ['greek yoghurt', 'Greek Yogurt', 'first'],
  ['yog', 'Greek Yogurt', 'first'],
  ['peanut buter', 'Peanut Butter', 'first'],
  ['matcha', 'Matcha Powder', 'first'],
  ['espreso', 'Espresso Beans', 'first'],
  ['avocado', 'Avocados', 'first'],
  ['acai', 'Açaí Bowl Mix', 'first'],
  ['salmon smoked', 'Smoked Salmon', 'first'],
  ['pistach', 'Pistachio Ice Cream', 'first'],
  ['mozarella', 'Mozzarella di Bufala', 'first'],
  ['sorbet raspberry', 'Raspberry Sorbet', 'first'],
  ['spagetti', 'Wholewheat Spaghetti', 'first'],
  ['coconut', 'Coconut Milk', 'first'],
  ['maple', 'Maple Syrup', 'first'],
  ['green tea', 'Organic Green Tea', 'first'],
  ['tea green', 'Organic Green Tea', 'first'],
  ['gren tea', 'Organic Green Tea', 'top3'],
  ['teas', 'Earl Grey Tea', 'top3'],
  ['bergamot', 'Earl Grey Tea', 'first'],
  ['xylophone', null, 'first'],
  ['tea xylophone', null, 'first'],
];

beforeAll(async () => {
  t = await buildTestApp();
  const staff = await createUser(t, { staff: true });
  customer = await createUser(t);
  const all = [...DISTINCT, ...filler()];
  // In bulk through the staff API, a few requests at a time.
  for (let i = 0; i < all.length; i += 16) {
    await Promise.all(
      all.slice(i, i + 16).map(async ([name, description], k) => {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/catalog/products/',
          headers: staff.auth,
          payload: { name, description, price: `${1 + ((i + k) % 40)}.50`, quantity: 5 },
        });
        expect(res.statusCode, res.body).toBe(201);
      }),
    );
  }
}, 180_000);
afterAll(() => t.close());

async function search(query: string, extra = '') {
  const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/?search=${encodeURIComponent(query)}${extra}`, headers: customer.auth });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { count: number; next: string | null; results: Array<{ id: string; name: string }> };
}

describe('relevance table', () => {
  it.each(TABLE)('%s → %s (%s)', async (query, expected, where) => {
    const page = await search(query);
    const names = page.results.map((p) => p.name);
    if (expected === null) expect(names).toEqual([]);
    else if (where === 'first') expect(names[0], names.slice(0, 5).join(' | ')).toBe(expected);
    else expect(names.slice(0, 3), names.slice(0, 5).join(' | ')).toContain(expected);
  });

  it('ranks an exact word above a prefix and a typo, and the name above the description', async () => {
    const names = (await search('tea', '&limit=100')).results.map((p) => p.name);
    const nameHits = ['Organic Green Tea', 'Earl Grey Tea', 'Chamomile Tea'];
    expect(new Set(names.slice(0, 3))).toEqual(new Set(nameHits));
    // Then products with "tea" only in their description (Kombucha, Matcha, the filler).
    expect(names.slice(3)).toContain('Matcha Powder');
    expect(names.slice(3)).not.toEqual(expect.arrayContaining(nameHits));
  });

  it('keeps every word required: a word nothing has empties the answer', async () => {
    expect((await search('earl grey xylophone')).count).toBe(0);
  });

  it('walks a relevance-ordered search by cursor without losing or repeating a product', async () => {
    const all = (await search('butter', '&limit=100')).results.map((p) => p.id);
    expect(all.length).toBeGreaterThan(10);
    const seen: string[] = [];
    let url: string | null = `/api/catalog/products/?search=butter&limit=4&cursor=`;
    for (let guard = 0; url && guard < 50; guard++) {
      const u: URL = new URL(url, 'http://localhost');
      const res = await t.app.inject({ method: 'GET', url: u.pathname + u.search, headers: customer.auth });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { next: string | null; results: Array<{ id: string }> };
      seen.push(...body.results.map((p) => p.id));
      url = body.next;
    }
    expect(seen).toEqual(all);
  });

  it('suggests a rare word\'s product beside a word most products have, whichever was typed first', async () => {
    // Created last, so the newest id: beyond the first postings of `from` (in ~260 descriptions)
    // that a bounded suggestion samples; only the rare word's own postings reach it.
    const staff = await createUser(t, { staff: true });
    const res = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Zanzibar Cloves', description: 'Whole cloves from Zanzibar', price: '3.00', quantity: 5 } });
    expect(res.statusCode, res.body).toBe(201);
    for (const typed of ['from zanzib', 'zanzibar fro']) {
      const found = await t.app.inject({ method: 'GET', url: `/api/catalog/suggest/?q=${encodeURIComponent(typed)}`, headers: customer.auth });
      expect(found.statusCode, found.body).toBe(200);
      expect((found.json() as Array<{ name: string }>).map((s) => s.name), typed).toEqual(['Zanzibar Cloves']);
    }
  });

  it('sets the trigram threshold for its own statement only: the connection keeps the default', async () => {
    expect((await search('earl gray tea')).results[0]?.name).toBe('Earl Grey Tea');
    const [row] = await queryRows<{ threshold: string }>(t.database.db.primary, sql`select current_setting('pg_trgm.similarity_threshold') as threshold`);
    expect(Number(row!.threshold)).toBeCloseTo(0.3);
  });

  it('refuses relevance ordering without a search', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/catalog/products/?ordering=relevance', headers: customer.auth });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });
});
