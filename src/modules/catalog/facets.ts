/**
 * Facet counts beside a product page (`facets=category,price`), over every product the search and
 * filters match, not just the page: per category, and per price band. Bands are about five of
 * one rounded width (1, 2, 2.5 or 5 times a power of ten, in cents) starting at a multiple of it,
 * so the app can show "10.00–20.00 (12)".
 */
import { formatMoney } from '../../platform/money.ts';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { SQL } from 'drizzle-orm';
import { termsOf, whereClause, type ProductFilter } from './repo.ts';
import { matchQuery } from './search.ts';
import type { FacetsJson } from './schemas.ts';

export type FacetName = 'category' | 'price';

/**
 * The rounded band width for prices spread over `range` cents, in SQL: the smallest of 1, 2, 2.5,
 * 5 or 10 times a power of ten that is at least range / 5 (at least 1 cent).
 */
export function bandWidthSql(range: SQL): SQL {
  return sql`(select greatest(1, round(case when r.raw <= r.mag then 1 when r.raw <= 2 * r.mag then 2 when r.raw <= 2.5 * r.mag then 2.5
                                            when r.raw <= 5 * r.mag then 5 else 10 end * r.mag))::bigint
              from (select raw, power(10::numeric, floor(log(raw))) as mag from (select greatest(1, (${range})::numeric / 5) as raw) x) r)`;
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
 * Both facets in one pass over the matches: they are grouped once by (category, price) — a few
 * hundred rows where the matches are tens of thousands — and the category counts, the price span,
 * the band width and the band counts are all read from that. Rows `c`: a category (a product
 * without one counts in the bands only); rows `b`: a band with its start and width. Before, the
 * bands were a second pass over the matches, after the span came back (two scans, two trips).
 * `l` is materialized so its width is computed once, not once per group.
 */
export const facetsQuery = (filter: ProductFilter) =>
  sql`${matching(filter)},
      g as materialized (select m.category_id, m.price_cents, count(*)::int as n from m group by 1, 2),
      l as materialized (select b.width, b.start, greatest(0, ceil((b.hi - b.start)::numeric / b.width) - 1)::bigint as last
                         from (select w.width, (w.lo / w.width) * w.width as start, w.hi
                               from (select s.lo, s.hi, ${bandWidthSql(sql`s.hi - s.lo`)} as width
                                     from (select min(price_cents) as lo, max(price_cents) as hi from g) s) w) b)
      select 'c' as kind, c.slug, c.name, x.count, null::int as band, null::bigint as start, null::bigint as width
        from (select g.category_id, sum(g.n)::int as count from g group by g.category_id) x join catalog.categories c on c.id = x.category_id
      union all
      select 'b', null, null, sum(g.n)::int, least((g.price_cents - l.start) / l.width, l.last)::int, l.start, l.width
        from g, l group by 5, 6, 7
      order by 1, 5, 4 desc, 3, 2`;

interface FacetRow {
  kind: 'c' | 'b';
  slug: string | null;
  name: string | null;
  count: number;
  band: number | null;
  start: number | null;
  width: number | null;
}

/** Both facets of a filter set, as `facetsOf` picks from: what the cache keeps per filter set. */
export type AllFacets = Required<FacetsJson>;

export async function facetCounts(db: Db, filter: ProductFilter): Promise<AllFacets> {
  const rows = await queryRows<FacetRow>(db, facetsQuery(filter));
  const category = rows.flatMap((r) => (r.kind === 'c' && r.slug !== null && r.name !== null ? [{ slug: r.slug, name: r.name, count: r.count }] : []));
  const price = rows.flatMap((r) => {
    if (r.kind !== 'b') return [];
    const min = Number(r.start) + Number(r.band) * Number(r.width);
    return [{ min: formatMoney(min), max: formatMoney(min + Number(r.width)), count: r.count }];
  });
  return { category, price };
}

/** The facets asked for, in the order the answer has always had them. */
export function facetsOf(all: AllFacets, names: FacetName[]): FacetsJson {
  const facets: FacetsJson = {};
  if (names.includes('category')) facets.category = all.category;
  if (names.includes('price')) facets.price = all.price;
  return facets;
}
