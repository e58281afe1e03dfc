/** Catalog SQL. Every function takes its executor first: primary, replica or transaction. */
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { SQL } from 'drizzle-orm';
import { rankWalkQuery } from './rank-walk.ts';
import { matchIdsQuery, matchQuery, type SearchTerms } from './search.ts';

export interface ProductRow {
  id: string;
  name: string;
  description: string;
  priceCents: number;
  stock: number;
  category: string | null;
  archived: boolean;
  version: number;
}

export interface CategoryRow {
  id: string;
  slug: string;
  name: string;
}

export interface ProductFilter {
  categorySlug?: string | undefined;
  minPriceCents?: number | undefined;
  maxPriceCents?: number | undefined;
  /** The query as typed: part of cache keys; `terms` is what the SQL uses. */
  search?: string | undefined;
  /** The search expanded by search.ts; required whenever `search` is set. */
  terms?: SearchTerms | undefined;
  inStock: boolean;
}

/** `relevance` sorts by the search rank, best first (only with a search). */
export type SortColumn = 'name' | 'price_cents' | 'created_at' | 'relevance';

export interface Sort {
  column: SortColumn;
  descending: boolean;
}

/** A keyset position: the sort key of the boundary row as text, and its id (the tie-break). */
export interface KeysetPosition {
  key: string;
  id: string;
  /** 'after' walks forward in the sort order, 'before' walks backward (a `previous` link). */
  direction: 'after' | 'before';
}

const PRODUCT_COLUMNS = sql`p.id::text as id, p.name, p.description, p.price_cents as "priceCents", p.stock,
  c.slug as category, p.archived, p.version`;
const FROM = sql`catalog.products p left join catalog.categories c on c.id = p.category_id`;

// The cast of each sort key back from its text form in a cursor.
const KEY_CAST: Record<SortColumn, SQL> = {
  name: sql`text`,
  price_cents: sql`bigint`,
  created_at: sql`timestamptz`,
  relevance: sql`int`,
};

/** What a non-relevance sort orders by (relevance pages are built by relevancePageQuery). */
function sortKey(sort: Sort): SQL {
  return sql`p.${sql.raw(sort.column)}`;
}

export function termsOf(filter: ProductFilter): SearchTerms {
  if (!filter.terms) throw new Error('search terms not expanded');
  return filter.terms;
}

export function whereClause(filter: ProductFilter): SQL {
  const parts: SQL[] = [sql`not p.archived`];
  if (filter.categorySlug !== undefined) {
    parts.push(sql`p.category_id = (select id from catalog.categories where slug = ${filter.categorySlug})`);
  }
  if (filter.minPriceCents !== undefined) parts.push(sql`p.price_cents >= ${filter.minPriceCents}`);
  if (filter.maxPriceCents !== undefined) parts.push(sql`p.price_cents <= ${filter.maxPriceCents}`);
  if (filter.search !== undefined) {
    parts.push(sql`p.id in (${matchIdsQuery(termsOf(filter), filter)})`);
  }
  if (filter.inStock) parts.push(sql`p.stock > 0`);
  return sql.join(parts, sql` and `);
}

// Ordered by the select list's "sortValue".
function orderClause(sort: Sort, reverse: boolean): SQL {
  const desc = sort.descending !== reverse;
  const dir = sql.raw(desc ? 'desc' : 'asc');
  return sql`order by "sortValue" ${dir}, p.id ${dir}`;
}

const sortColumns = (sort: Sort): SQL => {
  const key = sortKey(sort);
  return sql`${key} as "sortValue", ${key}::text as "sortKey"`;
};

/**
 * A relevance page: the best of the matches by (−rank, id) — the keyset cursor carries (−rank, id)
 * — chosen from the postings alone, then only those rows read from catalog.products. A one-word
 * search walks its rank classes in index order (rank-walk.ts: reads about as many postings as the
 * page shows); otherwise every match is ranked and a top-N sort inside the subquery picks the page.
 */
function relevancePageQuery(filter: ProductFilter, position: KeysetPosition | null, offset: number, limit: number): SQL {
  const reverse = position?.direction === 'before';
  const dir = sql.raw(reverse ? 'desc' : 'asc');
  const terms = termsOf(filter);
  const walk = terms.length === 1
    ? rankWalkQuery(terms[0]!, filter, position && { rank: -Number(position.key), id: position.id, direction: position.direction }, offset, limit)
    : undefined;
  let page = walk;
  if (!page) {
    let after = sql``;
    if (position) {
      const op = sql.raw(reverse ? '<' : '>');
      after = sql`where (-m.rank, m.product_id) ${op} (${position.key}::int, ${position.id}::uuid)`;
    }
    page = sql`select m.product_id, m.rank from (${matchQuery(terms, filter, 'ranked')}) m ${after}
            order by -m.rank ${dir}, m.product_id ${dir} limit ${limit} offset ${offset}`;
  }
  return sql`select ${PRODUCT_COLUMNS}, -m.rank as "sortValue", (-m.rank)::text as "sortKey"
      from (${page}) m
      join catalog.products p on p.id = m.product_id left join catalog.categories c on c.id = p.category_id
      order by -m.rank ${dir}, m.product_id ${dir}`;
}

export const offsetQuery = (filter: ProductFilter, sort: Sort, offset: number, limit: number): SQL =>
  sort.column === 'relevance'
    ? relevancePageQuery(filter, null, offset, limit)
    : sql`select ${PRODUCT_COLUMNS}, ${sortColumns(sort)} from ${FROM}
      where ${whereClause(filter)} ${orderClause(sort, false)} limit ${limit} offset ${offset}`;

export async function listProductsByOffset(db: Db, filter: ProductFilter, sort: Sort, offset: number, limit: number) {
  return queryRows<ProductRow & { sortKey: string }>(db, offsetQuery(filter, sort, offset, limit));
}

/**
 * Keyset page: rows strictly after (or before) the position in the sort order, served by the
 * (column, id) partial indexes whatever the depth. A backward walk is read in reverse order and
 * flipped by the caller.
 */
export function keysetQuery(filter: ProductFilter, sort: Sort, position: KeysetPosition | null, limit: number): SQL {
  if (sort.column === 'relevance') return relevancePageQuery(filter, position, 0, limit);
  const reverse = position?.direction === 'before';
  let where = whereClause(filter);
  if (position) {
    const forwardIsGreater = !sort.descending;
    const greater = forwardIsGreater !== reverse;
    const op = sql.raw(greater ? '>' : '<');
    const key = sql`${position.key}::${KEY_CAST[sort.column]}`;
    where = sql`${where} and (${sortKey(sort)}, p.id) ${op} (${key}, ${position.id}::uuid)`;
  }
  return sql`select ${PRODUCT_COLUMNS}, ${sortColumns(sort)} from ${FROM}
      where ${where} ${orderClause(sort, reverse)} limit ${limit}`;
}

export async function listProductsByKeyset(db: Db, filter: ProductFilter, sort: Sort, position: KeysetPosition | null, limit: number) {
  return queryRows<ProductRow & { sortKey: string }>(db, keysetQuery(filter, sort, position, limit));
}

/** With a search, counted from the postings alone (a product once, however many of its words match). */
export const countQuery = (filter: ProductFilter): SQL =>
  filter.search !== undefined
    ? sql`select count(*)::int as count from (${matchIdsQuery(termsOf(filter), filter)}) m`
    : sql`select count(*)::int as count from catalog.products p where ${whereClause(filter)}`;

export async function countProducts(db: Db, filter: ProductFilter): Promise<number> {
  const rows = await queryRows<{ count: number }>(db, countQuery(filter));
  return Number(rows[0]?.count ?? 0);
}

export async function findProduct(db: Db, id: string): Promise<ProductRow | undefined> {
  const rows = await queryRows<ProductRow>(db, sql`select ${PRODUCT_COLUMNS} from ${FROM} where p.id = ${id}::uuid`);
  return rows[0];
}

export interface ProductValues {
  name: string;
  description: string;
  priceCents: number;
  categoryId: string | null;
}

/** A new product without stock (0 by default): inventory sets it in the same transaction. */
export async function insertProduct(db: Db, id: string, values: ProductValues): Promise<void> {
  await db.execute(sql`insert into catalog.products (id, name, description, price_cents, category_id)
    values (${id}::uuid, ${values.name}, ${values.description}, ${values.priceCents}, ${values.categoryId}::uuid)`);
}

/**
 * Updates the given fields of a live product (never its stock: inventory writes that). Returns
 * 'missing' for an unknown or archived product.
 */
export async function updateProduct(db: Db, id: string, values: Partial<ProductValues>): Promise<'ok' | 'missing'> {
  const sets: SQL[] = [sql`version = version + 1`, sql`updated_at = now()`];
  if (values.name !== undefined) sets.push(sql`name = ${values.name}`);
  if (values.description !== undefined) sets.push(sql`description = ${values.description}`);
  if (values.priceCents !== undefined) sets.push(sql`price_cents = ${values.priceCents}`);
  if (values.categoryId !== undefined) sets.push(sql`category_id = ${values.categoryId}::uuid`);
  const rows = await queryRows<{ id: string }>(
    db,
    sql`update catalog.products set ${sql.join(sets, sql`, `)} where id = ${id}::uuid and not archived returning id`,
  );
  return rows.length > 0 ? 'ok' : 'missing';
}


export async function archiveProduct(db: Db, id: string): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`update catalog.products set archived = true, version = version + 1, updated_at = now()
        where id = ${id}::uuid and not archived returning id`,
  );
  return rows.length > 0;
}

export async function listCategories(db: Db): Promise<CategoryRow[]> {
  return queryRows<CategoryRow>(db, sql`select id::text as id, slug, name from catalog.categories order by name, slug`);
}

export async function findCategoryBySlug(db: Db, slug: string): Promise<CategoryRow | undefined> {
  const rows = await queryRows<CategoryRow>(db, sql`select id::text as id, slug, name from catalog.categories where slug = ${slug}`);
  return rows[0];
}

export async function insertCategory(db: Db, id: string, slug: string, name: string): Promise<void> {
  await db.execute(sql`insert into catalog.categories (id, slug, name) values (${id}::uuid, ${slug}, ${name})`);
}

export async function updateCategory(db: Db, slug: string, values: { slug?: string | undefined; name?: string | undefined }) {
  const sets: SQL[] = [];
  if (values.slug !== undefined) sets.push(sql`slug = ${values.slug}`);
  if (values.name !== undefined) sets.push(sql`name = ${values.name}`);
  const rows = await queryRows<CategoryRow>(
    db,
    sql`update catalog.categories set ${sql.join(sets, sql`, `)} where slug = ${slug} returning id::text as id, slug, name`,
  );
  return rows[0];
}

export async function deleteCategory(db: Db, slug: string): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(db, sql`delete from catalog.categories where slug = ${slug} returning id`);
  return rows.length > 0;
}

export async function countAllProducts(db: Db): Promise<number> {
  const rows = await queryRows<{ count: number }>(db, sql`select count(*)::int as count from catalog.products`);
  return Number(rows[0]?.count ?? 0);
}

/**
 * Live products with the least stock, for the staff dashboard. Deliberately without an index on
 * stock: every order changes stock, and an index on it would turn those updates from HOT
 * (heap-only) into ones that rewrite every index; a staff page can afford one top-N scan.
 */
export async function listLowStock(db: Db, maxStock: number, limit: number): Promise<ProductRow[]> {
  return queryRows<ProductRow>(
    db,
    sql`select ${PRODUCT_COLUMNS} from ${FROM} where not p.archived and p.stock <= ${maxStock}
        order by p.stock, p.id limit ${limit}`,
  );
}
