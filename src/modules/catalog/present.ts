/**
 * Product JSON and the last step of every read: cached bytes (which carry stock as `quantity`)
 * become the answer, with the units held in live carts subtracted (read in one call per page).
 */
import { representation, type Representation } from '../../platform/http/compression.ts';
import { formatMoney } from '../../platform/money.ts';
import type { CachedEntry, ReadyEntry } from './cache.ts';
import type { ProductRow } from './repo.ts';
import type { InventoryJson, ProductJson } from './schemas.ts';
import type { HeldUnits } from '../inventory/service.ts';

export type { HeldUnits };

/** Kept JSON bytes with their coded copies and entity tags (sent as is). */
export type Rendered = Representation;

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

/** Pages with holds applied kept per entry: the latest few held-unit states of its products. */
const HELD_VARIANTS = 4;

/**
 * Applies live holds to a cached entry. When nothing on the page is held, the kept bytes (plain or
 * coded) go out as they are. When something is, the page is parsed and serialized again once per
 * state of its products' held units — the state is the key of the entry's variants — so requests
 * that see the same holds get the same kept bytes and compress them at most once per coding.
 */
export function renderEntry(entry: ReadyEntry, held: Map<string, number> | undefined, page: boolean): Rendered {
  if (!held || held.size === 0) return entry.rep;
  let state = '';
  for (let i = 0; i < entry.ids.length; i++) {
    const units = held.get(entry.ids[i]!) ?? 0;
    if (units > 0) state += `${i}:${units},`;
  }
  if (state === '') return entry.rep;
  const known = entry.variants.get(state);
  if (known) return known;
  const stocks = new Map(entry.ids.map((id, i) => [id, entry.stocks[i]!]));
  const adjust = (p: ProductJson) => {
    p.quantity = Math.max(0, (stocks.get(p.id) ?? p.quantity) - (held.get(p.id) ?? 0));
  };
  const parsed = JSON.parse(entry.rep.bytes.toString()) as ProductJson | { results: ProductJson[] };
  if (page) (parsed as { results: ProductJson[] }).results.forEach(adjust);
  else adjust(parsed as ProductJson);
  const bytes = Buffer.from(JSON.stringify(parsed));
  // Same length rule as the entry's: a variant is compressible exactly when its entry is.
  const variant = representation(bytes, entry.rep.compressible ? 0 : Infinity);
  entry.variants.set(state, variant);
  if (entry.variants.size > HELD_VARIANTS) entry.variants.delete(entry.variants.keys().next().value!);
  return variant;
}

/** A cache entry for one product. */
export function productEntry(row: ProductRow): CachedEntry {
  return { header: `${row.id}:${row.stock}`, body: JSON.stringify(presentProduct(row, 0)) };
}
