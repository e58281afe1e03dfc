/**
 * Inventory is the one owner of units (ARCHITECTURE.md, Modules): no other code writes
 * `catalog.products.stock`. The module-boundary lint cannot see SQL, so this reads the sources: an
 * UPDATE setting `stock` or an INSERT naming it outside src/modules/inventory/ fails here unless
 * it is one of the exceptions below, each with its reason. A product a user's path makes goes
 * through the staff API, whose first stock is inventory's `setStock`; the seed takes its column
 * and value from inventory's `seededStock`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

/** Writers of stock outside inventory, and why each may. */
const JUSTIFIED: Record<string, string> = {
  // Stock changed behind the mirror's back, on purpose: the database must stay the final word.
  'src/modules/orders/flash-sale/flash-sale.test.ts': 'simulates a stock change the mirror did not see',
  // Written past the catalog service on purpose: a service write records its WAL position and
  // makes later reads wait for the replica, hiding the routing the test is about.
  'test/replica/http-routing.test.ts': 'a product on the primary only, without read-your-writes',
  // Benchmark set-up: thousands of products (or one with 100 M units) before the clock starts.
  'bench/orders/run.ts': 'bench set-up',
  'bench/cart/run.ts': 'bench set-up',
  'bench/webhooks/run.ts': 'bench set-up',
};

const STOCK_WRITE = [
  /update\s+catalog\.products\s+set[^`;]*?[\s,]stock\s*=/gi,
  // `stock` in the column list, but not `${stock.column}` (inventory's own fragment).
  /insert\s+into\s+catalog\.products\s*\([^)]*?(?<![${.\w])stock\b/gi,
];

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

it('no code outside inventory writes catalog.products.stock, but for the justified exceptions', () => {
  const writers = new Set<string>();
  for (const top of ['src', 'scripts', 'bench', 'test']) {
    for (const path of sources(join(ROOT, top))) {
      const file = relative(ROOT, path);
      if (file.startsWith('src/modules/inventory/') || file === 'test/platform/stock-owner.test.ts') continue;
      const text = readFileSync(path, 'utf8');
      if (STOCK_WRITE.some((pattern) => new RegExp(pattern).test(text))) writers.add(file);
    }
  }
  expect([...writers].sort()).toEqual(Object.keys(JUSTIFIED).sort());
});

it('recognises a stock write (the check is not vacuous)', () => {
  const caught = (text: string) => STOCK_WRITE.some((pattern) => new RegExp(pattern).test(text));
  expect(caught('insert into catalog.products (id, name, price_cents, stock, category_id)')).toBe(true);
  expect(caught('update catalog.products set price_cents = 5, stock = 3 where id = $1')).toBe(true);
  expect(caught('insert into catalog.products (id, name, ${stock.column}) select')).toBe(false);
  expect(caught('update catalog.products set archived = true where id = $1')).toBe(false);
});
