/**
 * Product JSON and the last step of every read: cached bytes (which carry stock as `quantity`)
 * become the answer, with the units held in live carts subtracted (read in one call per page).
 */
import { createHash } from 'node:crypto';
import { formatMoney } from '../../platform/money.ts';
import type { CachedEntry, ReadyEntry } from './cache.ts';
import type { ProductRow } from './repo.ts';
import type { InventoryJson, ProductJson } from './schemas.ts';
import type { HeldUnits } from '../inventory/service.ts';

export type { HeldUnits };

/** Serialized JSON (sent as is) and its entity tag. */
export interface Rendered {
  body: Buffer | string;
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

export function presentInventory(row: ProductRow, held: number): InventoryJson {
  return { ...presentProduct(row, held), stock: row.stock, held };
}

export const etagOf = (body: string): string => `"${createHash('sha1').update(body).digest('base64url')}"`;

/**
 * Applies live holds to a cached entry. When nothing on the page is held, the cached bytes and
 * their entity tag go out untouched; only a page with held units is parsed and serialized again.
 */
export function renderEntry(entry: ReadyEntry, held: Map<string, number> | undefined, page: boolean): Rendered {
  if (!held || !entry.ids.some((id) => (held.get(id) ?? 0) > 0)) return { body: entry.bytes, etag: entry.etag };
  const stocks = new Map(entry.ids.map((id, i) => [id, entry.stocks[i]!]));
  const adjust = (p: ProductJson) => {
    p.quantity = Math.max(0, (stocks.get(p.id) ?? p.quantity) - (held.get(p.id) ?? 0));
  };
  const parsed = JSON.parse(entry.bytes.toString()) as ProductJson | { results: ProductJson[] };
  if (page) (parsed as { results: ProductJson[] }).results.forEach(adjust);
  else adjust(parsed as ProductJson);
  const body = JSON.stringify(parsed);
  return { body, etag: etagOf(body) };
}

/** A cache entry for one product. */
export function productEntry(row: ProductRow): CachedEntry {
  return { header: `${row.id}:${row.stock}`, body: JSON.stringify(presentProduct(row, 0)) };
}
