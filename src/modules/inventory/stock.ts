/**
 * Every SQL statement that writes `catalog.products.stock` (the catalog owns the table; inventory
 * owns that column). Invariant 1 lives here: rows are locked in product-id order (so two writers
 * cannot deadlock) and every update is conditional (stock >= q, or a new stock >= 0), so even a
 * wrong caller cannot take stock below zero; a staff change first holds what it writes off
 * (staff-stock.ts). Nothing else in the codebase changes `stock`: the seed's bulk INSERT takes the
 * column and its value from `seededStock` below (test/platform/stock-owner.test.ts checks).
 */
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { StockMirror } from './holds.ts';

export interface StockLine {
  productId: string;
  quantity: number;
}

/** Sums repeated products and sorts by id: the lock order every writer uses. */
export function normalizeLines(lines: StockLine[]): StockLine[] {
  const sums = new Map<string, number>();
  for (const line of lines) sums.set(line.productId, (sums.get(line.productId) ?? 0) + line.quantity);
  return [...sums].map(([productId, quantity]) => ({ productId, quantity })).sort((a, b) => (a.productId < b.productId ? -1 : 1));
}

/** Returns the stock and version each product was left at, for the hold store's mirror. */
export type ReturnStock = (tx: Db, lines: StockLine[]) => Promise<StockMirror[]>;

/** A product as inventory reads it: what a hold, an admission and the batch writer decide on. */
export interface StockedProduct {
  id: string;
  name: string;
  priceCents: number;
  stock: number;
  version: number;
  archived: boolean;
}

const STOCKED_COLUMNS = sql`id::text as id, name, price_cents, stock, version, archived`;
const stocked = (r: { id: string; name: string; price_cents: number | string; stock: number; version: number | string; archived: boolean }): StockedProduct => ({
  id: r.id,
  name: r.name,
  priceCents: Number(r.price_cents),
  stock: r.stock,
  version: Number(r.version),
  archived: r.archived,
});
type StockedRow = Parameters<typeof stocked>[0];

/**
 * The products of `ids` as committed, read where the caller says (the primary: the stock and
 * version must be the latest, or a mirror would simply ignore them).
 */
export async function readProducts(db: Db, ids: string[]): Promise<Map<string, StockedProduct>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await queryRows<StockedRow>(db, sql`select ${STOCKED_COLUMNS} from catalog.products where id = any(${toUuidArray(unique)})`);
  return new Map(rows.map((r) => [r.id, stocked(r)]));
}

/** Puts units back (a cancelled order), in product-id order like every other stock writer. */
export const returnStock: ReturnStock = async (tx, lines) => {
  const mirrors: StockMirror[] = [];
  for (const line of normalizeLines(lines)) {
    const [row] = await queryRows<{ id: string; stock: number; version: number }>(
      tx,
      sql`update catalog.products
          set stock = stock + ${line.quantity}, version = version + 1, updated_at = now()
          where id = ${line.productId}
          returning id, stock, version`,
    );
    if (row) mirrors.push({ productId: row.id, stock: row.stock, version: Number(row.version) });
  }
  return mirrors;
};

/**
 * An order batch's stock statements are SQL functions (migrations/0350_orders_batch_trips.sql),
 * run by the orders module's batch functions in the batch's two round trips, and still inventory's:
 * `catalog.stock_lock(ids)` locks the rows (FOR UPDATE) in product-id order, the order every stock
 * writer takes locks in, so two batches (or a batch and a cancel) cannot deadlock; the caller
 * decides against those figures, and `catalog.stock_take(lines)` takes the summed units, one
 * update (and one version move) per product, still conditional (`stock >= q`): should the caller's
 * arithmetic ever be wrong, the database refuses instead of overselling (invariant 1) and the
 * whole batch rolls back. These read their answers.
 */
export function lockedFromJson(rows: StockedRow[]): Map<string, StockedProduct> {
  return new Map(rows.map((r) => [r.id, stocked(r)]));
}

/** What `catalog.stock_take` left each product at, for the hold store's mirror. */
export function takenFromJson(rows: Array<{ id: string; stock: number; version: number }>): StockMirror[] {
  return rows.map((r) => ({ productId: r.id, stock: r.stock, version: Number(r.version) }));
}

/** Sums a batch's take per product, in id order (what `catalog.stock_take` expects). */
export const takeLines = (lines: StockLine[]) => normalizeLines(lines).map((l) => ({ id: l.productId, quantity: l.quantity }));

/**
 * Locks the rows of `ids` (catalog.stock_lock: FOR UPDATE, in product-id order) in the caller's
 * transaction and reads them; unknown ids are simply absent from the map. Nobody can change the
 * rows until that transaction ends.
 */
export async function lockProducts(tx: Db, ids: string[]): Promise<Map<string, StockedProduct>> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return new Map();
  const [row] = await queryRows<{ locked: StockedRow[] }>(tx, sql`select catalog.stock_lock(${toUuidArray(sorted)}) as locked`);
  return lockedFromJson(row!.locked);
}

export type StockChange = 'ok' | 'missing';

/** A new product's first stock, in the transaction that inserts it (nothing can be held yet). */
export async function setStock(db: Db, id: string, quantity: number): Promise<{ outcome: StockChange; mirror?: StockMirror }> {
  const rows = await queryRows<{ id: string; stock: number; version: number }>(
    db,
    sql`update catalog.products set stock = ${quantity}, version = version + 1, updated_at = now()
        where id = ${id}::uuid and not archived and ${quantity}::int >= 0 returning id::text as id, stock, version`,
  );
  const row = rows[0];
  return row ? { outcome: 'ok', mirror: { productId: row.id, stock: row.stock, version: Number(row.version) } } : { outcome: 'missing' };
}

/**
 * The first stock of seeded products (the demo catalog, `npm run seed`), as a column and a value
 * for the seed's own INSERT … SELECT, row number `seq`: 1 in 10 sold out, the others 1–200 units.
 * Set in that INSERT rather than by an UPDATE after it because an UPDATE of every seeded row would
 * fire the search postings' row trigger for each product whose stock crosses zero (9 in 10) and
 * write every row twice: a million products would take far longer and leave the table half dead
 * tuples. Nothing can be held or mirrored yet, so there is nothing else to move.
 */
type SQL = ReturnType<typeof sql>;
export type SeededStock = (seq: SQL) => { column: SQL; value: SQL };
export const seededStock: SeededStock = (seq) => {
  return { column: sql.raw('stock'), value: sql`(case when ${seq} % 10 = 0 then 0 else 1 + (${seq} * 31) % 200 end)` };
};

/**
 * A staff change's new stock, on a row the caller locked (staff-stock.ts) after holding any units
 * it writes off: the figure is exact, and still never below zero.
 */
export async function writeStock(tx: Db, id: string, quantity: number): Promise<StockMirror> {
  const [row] = await queryRows<{ id: string; stock: number; version: number }>(
    tx,
    sql`update catalog.products set stock = ${quantity}, version = version + 1, updated_at = now()
        where id = ${id}::uuid and ${quantity}::int >= 0 returning id::text as id, stock, version`,
  );
  if (!row) throw new Error('writeStock: the locked product could not take its new stock; change rolled back');
  return { productId: row.id, stock: row.stock, version: Number(row.version) };
}

const toUuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;
