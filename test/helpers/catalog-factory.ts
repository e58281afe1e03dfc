/**
 * Products for tests of other modules, written straight into catalog.products so those tests do
 * not depend on the catalog's HTTP API. Stock is read and restocked the same way. Each write then
 * does what a catalog write does afterwards (`bumpVersion` / `changedOutside`: cached pages dropped,
 * the write's WAL position recorded so replica reads wait for it, the hold store's stock mirror
 * moved, remembered names and prices dropped), or a read could miss what the test has just done.
 */
import { queryRows, sql } from '../../src/platform/db.ts';
import { newId } from '../../src/platform/ids.ts';
import type { TestApp } from './test-app.ts';

export interface TestProduct {
  id: string;
  name: string;
  priceCents: number;
}

let counter = 0;

export async function createProduct(t: TestApp, opts: { stock: number; priceCents?: number; name?: string; archived?: boolean }): Promise<TestProduct> {
  const product = { id: newId(), name: opts.name ?? `Product ${++counter}`, priceCents: opts.priceCents ?? 1000 };
  await t.services.db.primary.execute(
    sql`insert into catalog.products (id, name, price_cents, stock, archived)
        values (${product.id}, ${product.name}, ${product.priceCents}, ${opts.stock}, ${opts.archived ?? false})`,
  );
  await t.services.catalog.bumpVersion();
  return product;
}

export async function stockOf(t: TestApp, productId: string): Promise<number> {
  const [row] = await queryRows<{ stock: number }>(t.services.db.primary, sql`select stock from catalog.products where id = ${productId}`);
  if (!row) throw new Error(`no product ${productId}`);
  return row.stock;
}

export async function restock(t: TestApp, productId: string, units: number): Promise<void> {
  const [row] = await queryRows<{ stock: number; version: number }>(
    t.services.db.primary,
    sql`update catalog.products set stock = stock + ${units}, version = version + 1 where id = ${productId} returning stock, version`,
  );
  await t.services.catalog.changedOutside({ mirrors: [{ productId, stock: row!.stock, version: Number(row!.version) }] });
}

export async function setPrice(t: TestApp, productId: string, priceCents: number): Promise<void> {
  await t.services.db.primary.execute(sql`update catalog.products set price_cents = ${priceCents}, version = version + 1 where id = ${productId}`);
  await t.services.catalog.changedOutside({ content: true });
}
