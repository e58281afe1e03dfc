/**
 * Every SQL statement that writes `catalog.products.stock` (the catalog owns the table; inventory
 * owns that column). Invariant 1 lives here: rows are locked in product-id order (so two writers
 * cannot deadlock) and every update is conditional (stock >= q, or >= the units held for a staff
 * change), so even a wrong caller cannot take stock below zero. Nothing else in the codebase
 * changes `stock`.
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

export type StockChange = 'ok' | 'missing' | 'below_held';

/**
 * Staff sets a live product's stock: written only when it covers the units held (`minStock`), in
 * the same statement, so a check and a write cannot drift. Returns the figures for the mirror.
 */
export async function setStock(db: Db, id: string, quantity: number, minStock = 0): Promise<{ outcome: StockChange; mirror?: StockMirror }> {
  const rows = await queryRows<{ id: string; stock: number; version: number }>(
    db,
    sql`update catalog.products set stock = ${quantity}, version = version + 1, updated_at = now()
        where id = ${id}::uuid and not archived and ${quantity}::int >= greatest(${minStock}::int, 0) returning id::text as id, stock, version`,
  );
  return changed(db, id, rows[0]);
}

/**
 * Restock or write-off in one conditional update: the new stock may not go below zero nor below
 * the units held in carts (`minStock`). Never read-modify-write.
 */
export async function adjustStock(db: Db, id: string, delta: number, minStock: number): Promise<{ outcome: StockChange; mirror?: StockMirror }> {
  const rows = await queryRows<{ id: string; stock: number; version: number }>(
    db,
    sql`update catalog.products set stock = stock + ${delta}, version = version + 1, updated_at = now()
        where id = ${id}::uuid and not archived and stock + ${delta} >= greatest(${minStock}::int, 0) returning id::text as id, stock, version`,
  );
  return changed(db, id, rows[0]);
}

async function changed(db: Db, id: string, row: { id: string; stock: number; version: number } | undefined): Promise<{ outcome: StockChange; mirror?: StockMirror }> {
  if (row) return { outcome: 'ok', mirror: { productId: row.id, stock: row.stock, version: Number(row.version) } };
  const live = await queryRows<{ id: string }>(db, sql`select id from catalog.products where id = ${id}::uuid and not archived`);
  return { outcome: live.length > 0 ? 'below_held' : 'missing' };
}

const toUuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;
