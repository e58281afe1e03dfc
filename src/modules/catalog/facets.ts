/**
 * Facet counts beside a product page (`facets=category,price`), over every product the search and
 * filters match, not just the page: per category, and per price band. Bands are about five of
 * one rounded width (1, 2, 2.5 or 5 times a power of ten, in cents) starting at a multiple of it,
 * so the app can show "10.00–20.00 (12)".
 */
import { formatMoney } from '../../platform/money.ts';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import { whereClause, type ProductFilter } from './repo.ts';
import type { FacetsJson } from './schemas.ts';

export type FacetName = 'category' | 'price';

const BANDS = 5;
const NICE = [1, 2, 2.5, 5, 10];

/** The rounded band width for prices spread over `range` cents: the smallest nice step ≥ range / 5. */
export function bandWidth(range: number): number {
  const raw = Math.max(1, range / BANDS);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const factor = NICE.find((n) => n * magnitude >= raw) ?? 10;
  return Math.max(1, Math.round(factor * magnitude));
}

async function categoryFacet(db: Db, filter: ProductFilter) {
  return queryRows<{ slug: string; name: string; count: number }>(
    db,
    sql`select c.slug, c.name, count(*)::int as count
        from catalog.products p join catalog.categories c on c.id = p.category_id
        where ${whereClause(filter)} group by c.slug, c.name order by count desc, c.name, c.slug`,
  );
}

async function priceFacet(db: Db, filter: ProductFilter) {
  const [span] = await queryRows<{ low: number | null; high: number | null }>(
    db,
    sql`select min(p.price_cents)::bigint as low, max(p.price_cents)::bigint as high from catalog.products p where ${whereClause(filter)}`,
  );
  if (!span || span.low === null || span.high === null) return [];
  const low = Number(span.low);
  const high = Number(span.high);
  const width = bandWidth(high - low);
  const start = Math.floor(low / width) * width;
  // The top price closes the last band rather than opening a band of its own.
  const last = Math.max(0, Math.ceil((high - start) / width) - 1);
  const rows = await queryRows<{ band: number; count: number }>(
    db,
    sql`select least((p.price_cents - ${start}) / ${width}, ${last})::int as band, count(*)::int as count
        from catalog.products p where ${whereClause(filter)} group by 1 order by 1`,
  );
  return rows.map((r) => ({ min: formatMoney(start + r.band * width), max: formatMoney(start + (r.band + 1) * width), count: r.count }));
}

export async function facetCounts(db: Db, filter: ProductFilter, names: FacetName[]): Promise<FacetsJson> {
  const facets: FacetsJson = {};
  if (names.includes('category')) facets.category = await categoryFacet(db, filter);
  if (names.includes('price')) facets.price = await priceFacet(db, filter);
  return facets;
}
