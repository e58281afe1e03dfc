/**
 * The catalog's stock operations, called by orders inside their own transaction. Invariant 1 lives
 * here: rows are locked in product-id order (so two writers cannot deadlock) and every update is
 * conditional (stock >= q), so even a wrong caller cannot take stock below zero. Besides staff
 * inventory changes (repo.ts), nothing else in the codebase changes `stock`.
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

interface LockedRow {
  id: string;
  name: string;
  price_cents: number;
  stock: number;
  version: number;
  archived: boolean;
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

/** A product row as the batch writer locked it. */
export interface LockedProduct {
  id: string;
  name: string;
  priceCents: number;
  stock: number;
  version: number;
  archived: boolean;
}

/**
 * Locks the rows of `ids` (FOR UPDATE) in product-id order, the order every stock writer takes
 * locks in, so two batches (or a batch and a cancel) cannot deadlock. Unknown ids are simply
 * absent from the map. The caller decides against these figures and then calls `takeLocked`
 * in the same transaction: nobody can change the rows in between.
 */
export async function lockProducts(tx: Db, ids: string[]): Promise<Map<string, LockedProduct>> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return new Map();
  const rows = await queryRows<LockedRow>(
    tx,
    sql`select id, name, price_cents, stock, version, archived from catalog.products
        where id = any(${toUuidArray(sorted)}) order by id for update`,
  );
  return new Map(
    rows.map((r) => [r.id, { id: r.id, name: r.name, priceCents: Number(r.price_cents), stock: r.stock, version: Number(r.version), archived: r.archived }]),
  );
}

/**
 * Takes the summed units of a batch from rows locked by `lockProducts`: one statement, one
 * update (and one version move) per product. Still conditional (`stock >= q`): should the
 * caller's arithmetic ever be wrong, the database refuses instead of overselling (invariant 1),
 * and the whole batch rolls back.
 */
export async function takeLocked(tx: Db, lines: StockLine[]): Promise<StockMirror[]> {
  const wanted = normalizeLines(lines);
  if (wanted.length === 0) return [];
  const rows = await queryRows<{ id: string; stock: number; version: number }>(
    tx,
    sql`update catalog.products p
        set stock = p.stock - x.quantity, version = p.version + 1, updated_at = now()
        from jsonb_to_recordset(${JSON.stringify(wanted.map((l) => ({ id: l.productId, quantity: l.quantity })))}::jsonb) as x(id uuid, quantity integer)
        where p.id = x.id and p.stock >= x.quantity
        returning p.id, p.stock, p.version`,
  );
  if (rows.length !== wanted.length) throw new Error('takeLocked: a locked product could not cover its batch; batch rolled back');
  return rows.map((r) => ({ productId: r.id, stock: r.stock, version: Number(r.version) }));
}

const toUuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;
