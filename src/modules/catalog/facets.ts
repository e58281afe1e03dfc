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

/**
 * The matching products, gathered first through the search index (MATERIALIZED). Left to
 * itself, the planner answers min(price) by walking the price index and filtering each row, and
 * joins categories row by row: for a search that matches little or nothing that reads the whole
 * table (29 s at 1M products on a loaded machine, against milliseconds this way).
 */
const matching = (filter: ProductFilter) =>
  sql`with m as materialized (select p.category_id, p.price_cents from catalog.products p where ${whereClause(filter)})`;

export const categoryFacetQuery = (filter: ProductFilter) =>
  sql`${matching(filter)}
      select c.slug, c.name, count(*)::int as count
      from m join catalog.categories c on c.id = m.category_id
      group by c.slug, c.name order by count desc, c.name, c.slug`;

export const priceSpanQuery = (filter: ProductFilter) =>
  sql`${matching(filter)} select min(m.price_cents)::bigint as low, max(m.price_cents)::bigint as high from m`;

async function categoryFacet(db: Db, filter: ProductFilter) {
  return queryRows<{ slug: string; name: string; count: number }>(db, categoryFacetQuery(filter));
}

async function priceFacet(db: Db, filter: ProductFilter) {
  const [span] = await queryRows<{ low: number | null; high: number | null }>(db, priceSpanQuery(filter));
  if (!span || span.low === null || span.high === null) return [];
  const low = Number(span.low);
  const high = Number(span.high);
  const width = bandWidth(high - low);
  const start = Math.floor(low / width) * width;
  // The top price closes the last band rather than opening a band of its own.
  const last = Math.max(0, Math.ceil((high - start) / width) - 1);
  const rows = await queryRows<{ band: number; count: number }>(
    db,
    sql`${matching(filter)}
        select least((m.price_cents - ${start}) / ${width}, ${last})::int as band, count(*)::int as count
        from m group by 1 order by 1`,
  );
  return rows.map((r) => ({ min: formatMoney(start + r.band * width), max: formatMoney(start + (r.band + 1) * width), count: r.count }));
}

export async function facetCounts(db: Db, filter: ProductFilter, names: FacetName[]): Promise<FacetsJson> {
  const facets: FacetsJson = {};
  if (names.includes('category')) facets.category = await categoryFacet(db, filter);
  if (names.includes('price')) facets.price = await priceFacet(db, filter);
  return facets;
}
