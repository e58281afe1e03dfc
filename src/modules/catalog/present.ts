/**
 * Product JSON and the last step of every read: cached bytes (which carry stock as `quantity`)
 * become the answer, with the units held in live carts subtracted in one call per page.
 */
import { createHash } from 'node:crypto';
import { formatMoney } from '../../platform/money.ts';
import type { CachedEntry } from './cache.ts';
import type { ProductRow } from './repo.ts';
import type { ProductJson } from './schemas.ts';

/** Units held in live carts per product id (absent ids hold nothing). Provided by the cart's hold store. */
export type HeldUnits = (productIds: string[]) => Promise<Map<string, number>>;

/** Serialized JSON and its entity tag. */
export interface Rendered {
  body: string;
  etag: string;
}

export function presentProduct(row: ProductRow, held: number): ProductJson {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    price: formatMoney(Number(row.priceCents)),
    // A product whose whole stock is held shows 0 (and stays listed under in_stock until the
    // holds end or the stock is taken: in_stock filters on stock in SQL).
    quantity: Math.max(0, row.stock - held),
    category: row.category,
  };
}

export const etagOf = (body: string): string => `"${createHash('sha1').update(body).digest('base64url')}"`;

/**
 * Applies live holds to a cached entry. The header lists `id:stock` of the products in the body;
 * when nothing on the page is held, the cached bytes go out untouched.
 */
export async function renderEntry(entry: CachedEntry, heldUnits: HeldUnits | undefined, page: boolean): Promise<Rendered> {
  if (!heldUnits || entry.header === '') return { body: entry.body, etag: etagOf(entry.body) };
  const stocks = new Map<string, number>();
  for (const pair of entry.header.split(',')) {
    const at = pair.indexOf(':');
    stocks.set(pair.slice(0, at), Number(pair.slice(at + 1)));
  }
  const held = await heldUnits([...stocks.keys()]);
  let anyHeld = false;
  for (const id of stocks.keys()) if ((held.get(id) ?? 0) > 0) anyHeld = true;
  if (!anyHeld) return { body: entry.body, etag: etagOf(entry.body) };
  const adjust = (p: ProductJson) => {
    p.quantity = Math.max(0, (stocks.get(p.id) ?? p.quantity) - (held.get(p.id) ?? 0));
  };
  const parsed = JSON.parse(entry.body) as ProductJson | { results: ProductJson[] };
  if (page) (parsed as { results: ProductJson[] }).results.forEach(adjust);
  else adjust(parsed as ProductJson);
  const body = JSON.stringify(parsed);
  return { body, etag: etagOf(body) };
}

/** A cache entry for one product. */
export function productEntry(row: ProductRow): CachedEntry {
  return { header: `${row.id}:${row.stock}`, body: JSON.stringify(presentProduct(row, 0)) };
}
