/**
 * Facet counts beside a product page (`facets=category,price`), over every product the search and
 * filters match, not just the page: per category, and per price band. Bands are about five of
 * one rounded width (1, 2, 2.5 or 5 times a power of ten, in cents) starting at a multiple of it,
 * so the app can show "10.00–20.00 (12)".
 */
import { formatMoney } from '../../platform/money.ts';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import { termsOf, whereClause, type ProductFilter } from './repo.ts';
import { matchQuery } from './search.ts';
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
 * The matching products. With a search, read from the postings alone (search.ts's matchQuery),
 * never the products table, and streamed into the grouping (a materialized set of 80,000 matches
 * spills to disk). Without one, through the products' filters and gathered first (MATERIALIZED):
 * left to itself, the planner answers min(price) by walking the price index and filtering each
 * row, and joins categories row by row — for filters that match little or nothing that reads the
 * whole table (29 s at 1M products on a loaded machine, against milliseconds this way).
 */
const matching = (filter: ProductFilter) =>
  filter.search !== undefined
    ? sql`with m as (select m.category_id, m.price_cents from (${matchQuery(termsOf(filter), filter)}) m)`
    : sql`with m as materialized (select p.category_id, p.price_cents from catalog.products p where ${whereClause(filter)})`;

/**
 * One pass over the matches: per category its count and price span (a product without a category
 * counts in the span only). The price bands need the span first, so they are a second pass.
 */
export const categorySpanQuery = (filter: ProductFilter) =>
  sql`${matching(filter)}, g as (select m.category_id, count(*)::int as count, min(m.price_cents)::bigint as low, max(m.price_cents)::bigint as high
                              from m group by m.category_id)
      select c.slug, c.name, g.count, g.low, g.high from g left join catalog.categories c on c.id = g.category_id
      order by g.count desc, c.name, c.slug`;

interface Bands {
  start: number;
  width: number;
  last: number;
}

/** About five bands of one rounded width over [low, high]; the top price closes the last band. */
export function priceBands(low: number, high: number): Bands {
  const width = bandWidth(high - low);
  const start = Math.floor(low / width) * width;
  return { start, width, last: Math.max(0, Math.ceil((high - start) / width) - 1) };
}

export const priceBandQuery = (filter: ProductFilter, { start, width, last }: Bands) =>
  sql`${matching(filter)}
      select least((m.price_cents - ${start}) / ${width}, ${last})::int as band, count(*)::int as count
      from m group by 1 order by 1`;

export async function facetCounts(db: Db, filter: ProductFilter, names: FacetName[]): Promise<FacetsJson> {
  const groups = await queryRows<{ slug: string | null; name: string | null; count: number; low: number; high: number }>(db, categorySpanQuery(filter));
  const facets: FacetsJson = {};
  if (names.includes('category')) {
    facets.category = groups.flatMap((g) => (g.slug !== null && g.name !== null ? [{ slug: g.slug, name: g.name, count: g.count }] : []));
  }
  if (names.includes('price')) {
    if (groups.length === 0) facets.price = [];
    else {
      const bands = priceBands(Math.min(...groups.map((g) => Number(g.low))), Math.max(...groups.map((g) => Number(g.high))));
      const rows = await queryRows<{ band: number; count: number }>(db, priceBandQuery(filter, bands));
      facets.price = rows.map((r) => ({ min: formatMoney(bands.start + r.band * bands.width), max: formatMoney(bands.start + (r.band + 1) * bands.width), count: r.count }));
    }
  }
  return facets;
}
