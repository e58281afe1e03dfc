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
  const categories = await t.app.inject({ method: 'GET', url: '/api/catalog/categories/', headers: customer.auth });
  expect(categories.json().length).toBeGreaterThanOrEqual(8);
  expect(await t.services.catalog.seedDemoIfEmpty()).toBe(false);
});
