/**
 * The product list: parameters normalized once (defaults, cents, cursor), then a page from the
 * cache or the database, rendered to JSON bytes. The same canonical parameters make the cache key
 * and the `next`/`previous` links, so two spellings of one query share an entry.
 */
import { AppError } from '../../platform/errors.ts';
import { parseMoney } from '../../platform/money.ts';
import { decodeCursor, encodeCursor, pageUrl } from '../../platform/pagination.ts';
import type { CatalogCache, MissReads } from './cache.ts';
import { facetCounts, facetsOf, type FacetName } from './facets.ts';
import { presentProduct, type HeldUnits, type Rendered, renderEntry } from './present.ts';
import * as repo from './repo.ts';
import type { FacetsJson, ListQueryType, Ordering } from './schemas.ts';
import type { Expander } from './expansion.ts';

const DEFAULT_LIMIT = 20;
// Creation order by default: new products append at the end, so an offset walk does not shift.
// A search defaults to relevance.
const DEFAULT_ORDERING: Ordering = 'created_at';

const SORTS: Record<Ordering, repo.Sort> = {
  name: { column: 'name', descending: false },
  '-name': { column: 'name', descending: true },
  price: { column: 'price_cents', descending: false },
  '-price': { column: 'price_cents', descending: true },
  created_at: { column: 'created_at', descending: false },
  '-created_at': { column: 'created_at', descending: true },
  relevance: { column: 'relevance', descending: false },
};

interface CursorValue {
  o: Ordering;
  k: string;
  i: string;
  d: 'a' | 'b';
}

const isCursor = (v: unknown): v is CursorValue => {
  const c = v as CursorValue;
  return typeof c === 'object' && c !== null && typeof c.o === 'string' && c.o in SORTS && typeof c.k === 'string' &&
    typeof c.i === 'string' && /^[0-9a-f-]{36}$/i.test(c.i) && (c.d === 'a' || c.d === 'b');
};

export interface ListRequest {
  query: ListQueryType;
  /** Scheme and host the links start with, e.g. `https://api.example.com`. */
  baseUrl: string;
  path: string;
}

interface Normalized {
  filter: repo.ProductFilter;
  ordering: Ordering;
  limit: number;
  offset: number;
  /** undefined: offset mode; null: the first page of a cursor walk. */
  position: repo.KeysetPosition | null | undefined;
  /** Canonical filter and ordering parameters, in a fixed order. */
  params: Array<[string, string]>;
  facets: FacetName[];
}

function money(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const cents = parseMoney(value);
  if (cents === undefined) throw new AppError('validation_failed', `${field} is not a decimal amount`, { errors: [{ field, message: 'must be a decimal such as "12.50"' }] });
  return cents;
}

export function normalize(query: ListQueryType): Normalized {
  const ordering = query.ordering ?? (query.search !== undefined ? 'relevance' : DEFAULT_ORDERING);
  if (ordering === 'relevance' && query.search === undefined) {
    throw new AppError('validation_failed', 'relevance ordering needs a search', { errors: [{ field: 'ordering', message: 'relevance needs search' }] });
  }
  const filter: repo.ProductFilter = {
    categorySlug: query.category,
    minPriceCents: money(query.min_price, 'min_price'),
    maxPriceCents: money(query.max_price, 'max_price'),
    search: query.search,
    inStock: query.in_stock ?? true,
  };
  let position: repo.KeysetPosition | null | undefined;
  if (query.cursor !== undefined) {
    if (query.offset !== undefined && query.offset !== 0) {
      throw new AppError('validation_failed', 'Use either offset or cursor', { errors: [{ field: 'offset', message: 'cannot be combined with cursor' }] });
    }
    if (query.cursor === '') position = null;
    else {
      const c = decodeCursor(query.cursor, isCursor);
      if (c.o !== ordering) throw new AppError('validation_failed', 'cursor belongs to another ordering', { errors: [{ field: 'cursor', message: 'does not match ordering' }] });
      position = { key: c.k, id: c.i, direction: c.d === 'a' ? 'after' : 'before' };
    }
  }
  const params: Array<[string, string]> = [];
  if (query.category !== undefined) params.push(['category', query.category]);
  if (query.min_price !== undefined) params.push(['min_price', query.min_price]);
  if (query.max_price !== undefined) params.push(['max_price', query.max_price]);
  if (query.search !== undefined) params.push(['search', query.search]);
  params.push(['in_stock', String(filter.inStock)], ['ordering', ordering]);
  const facets = (['category', 'price'] as const).filter((f) => query.facets?.split(',').includes(f));
  if (facets.length > 0) params.push(['facets', facets.join(',')]);
  return { filter, ordering, limit: query.limit ?? DEFAULT_LIMIT, offset: query.offset ?? 0, position, params, facets };
}

function link(req: ListRequest, n: Normalized, extra: Record<string, string | number>): string {
  const search = new URLSearchParams(n.params);
  search.set('limit', String(n.limit));
  for (const [k, v] of Object.entries(extra)) search.set(k, String(v));
  return pageUrl(req.baseUrl, `${req.path}?${search.toString()}`, {});
}

function cursorOf(n: Normalized, row: repo.ProductRow & { sortKey: string }, d: 'a' | 'b'): string {
  return encodeCursor({ o: n.ordering, k: row.sortKey, i: row.id, d } satisfies CursorValue);
}

type SortedRow = repo.ProductRow & { sortKey: string };

/**
 * What the set of matching products depends on, as the key of its cached count and facets: the
 * filters and, for a search, its expanded terms rather than the text typed (`Colombia`,
 * `colombia!` and `colombia` match the same products, so they share one count and one facets).
 */
function matchKey(filter: repo.ProductFilter): string {
  const { search: _search, terms, ...rest } = filter;
  return JSON.stringify(terms === undefined ? rest : { ...rest, terms });
}

async function buildPage(cache: CatalogCache, expand: Expander, req: ListRequest, normalized: Normalized, seen: MissReads) {
  const sort = SORTS[normalized.ordering];
  const search = normalized.filter.search;
  const n = search === undefined ? normalized : { ...normalized, filter: { ...normalized.filter, terms: await expand(search, seen.contentVersion) } };
  const filterKey = matchKey(n.filter);
  let rows: SortedRow[];
  let count: number | undefined;
  let next: string | null = null;
  let previous: string | null = null;
  if (n.position === undefined) {
    const [found, total] = await Promise.all([
      cache.read((db) => repo.listProductsByOffset(db, n.filter, sort, n.offset, n.limit + 1)),
      cache.count(filterKey, () => cache.read((db) => repo.countProducts(db, n.filter))),
    ]);
    rows = found.slice(0, n.limit);
    count = total;
    if (found.length > n.limit) next = link(req, n, { offset: n.offset + n.limit });
    if (n.offset > 0) previous = link(req, n, { offset: Math.max(0, n.offset - n.limit) });
  } else {
    const position = n.position;
    const found = await cache.read((db) => repo.listProductsByKeyset(db, n.filter, sort, position, n.limit + 1));
    const more = found.length > n.limit;
    rows = found.slice(0, n.limit);
    if (position?.direction === 'before') rows.reverse();
    const first = rows[0];
    const last = rows.at(-1);
    const backward = position?.direction === 'before';
    if (last && (backward || more)) next = link(req, n, { cursor: cursorOf(n, last, 'a') });
    if (first && (backward ? more : position !== null)) previous = link(req, n, { cursor: cursorOf(n, first, 'b') });
  }
  let facets: FacetsJson | undefined;
  // Cached per filter set like the count (cache.ts's `derived`): exact as of the last staff change.
  if (n.facets.length > 0) facets = facetsOf(await cache.facets(filterKey, () => cache.read((db) => facetCounts(db, n.filter))), n.facets);
  const body = JSON.stringify({ ...(count !== undefined ? { count } : {}), next, previous, results: rows.map((r) => presentProduct(r, 0)), ...(facets ? { facets } : {}) });
  return { header: rows.map((r) => `${r.id}:${r.stock}`).join(','), body };
}

export async function listProducts(cache: CatalogCache, expand: Expander, heldUnits: HeldUnits | undefined, req: ListRequest): Promise<Rendered> {
  const n = normalize(req.query);
  const mode = n.position === undefined ? `o${n.offset}` : `c${req.query.cursor}`;
  const key = `list:${req.baseUrl}${req.path}?${new URLSearchParams(n.params).toString()}&limit=${n.limit}&${mode}`;
  const { entry, held } = await cache.fetch(key, (seen) => buildPage(cache, expand, req, n, seen), heldUnits, { contentVersion: n.filter.search !== undefined });
  return renderEntry(entry, held, true);
}
