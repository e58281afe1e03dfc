import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { SEED_DEMO_DATA: 'true' } });
});
afterAll(() => t.close());

it('loads the demo catalog on an empty database, once', async () => {
  const customer = await createUser(t);
  const page = await t.app.inject({ method: 'GET', url: '/api/catalog/products/?in_stock=false&limit=1', headers: customer.auth });
  expect(page.json().count).toBe(300);
  // Inventory's first stock leaves 1 in 10 sold out, and the search postings agree.
  const inStock = await t.app.inject({ method: 'GET', url: '/api/catalog/products/?in_stock=true&limit=1', headers: customer.auth });
  expect(inStock.json().count).toBe(270);
  const categories = await t.app.inject({ method: 'GET', url: '/api/catalog/categories/', headers: customer.auth });
  expect(categories.json().length).toBeGreaterThanOrEqual(8);
  expect(await t.services.catalog.seedDemoIfEmpty()).toBe(false);
});

it('finds what a new user types in the demo catalog: plurals, half-typed and misspelt words, any order', async () => {
  const customer = await createUser(t);
  const names = async (search: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/catalog/products/?search=${encodeURIComponent(search)}&limit=100`, headers: customer.auth });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { results: Array<{ name: string }> }).results.map((p) => p.name);
  };
  expect((await names('tea')).length).toBeGreaterThanOrEqual(8);
  for (const typed of ['teas', 'gren', 'Tea Green', 'grean tea']) {
    const found = await names(typed);
    expect(found.length, typed).toBeGreaterThan(0);
    expect(found[0], typed).toMatch(/Green Tea/);
  }
});
