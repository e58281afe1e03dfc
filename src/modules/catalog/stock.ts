/**
 * The catalog's stock operations, called by orders inside their own transaction. Invariant 1 lives
 * here: one conditional update per line (stock >= q), lines in product-id order so two orders
 * cannot deadlock. Nothing else in the codebase changes `stock`.
 */
import { queryRows, sql, type Db } from '../../platform/db.ts';

export interface StockLine {
  productId: string;
  quantity: number;
}

export interface TakenProduct {
  id: string;
  name: string;
  priceCents: number;
  stockAfter: number;
  version: number;
}

export type TakeStockResult =
  | { ok: true; products: TakenProduct[] }
  | { ok: false; reason: 'unknown_product'; productIds: string[] }
  | { ok: false; reason: 'insufficient_stock'; items: Array<{ productId: string; requested: number; available: number }> };

/** Sums repeated products and sorts by id: the lock order every writer uses. */
export function normalizeLines(lines: StockLine[]): StockLine[] {
  const sums = new Map<string, number>();
  for (const line of lines) sums.set(line.productId, (sums.get(line.productId) ?? 0) + line.quantity);
  return [...sums].map(([productId, quantity]) => ({ productId, quantity })).sort((a, b) => (a.productId < b.productId ? -1 : 1));
}

export type TakeStock = (tx: Db, lines: StockLine[]) => Promise<TakeStockResult>;
export type ReturnStock = (tx: Db, lines: StockLine[]) => Promise<void>;

interface TakenRow {
  id: string;
  name: string;
  price_cents: number;
  stock: number;
  version: number;
}

/**
 * Takes every line or reports why not; the caller owns the transaction and rolls it back on
 * `ok: false` (units taken before the failing line are returned by that rollback). The update
 * itself is the guard: `stock >= q` is checked and applied under the row lock, never read first.
 * Prices and names come back from the same statement, so they are the catalog's at lock time.
 */
export const takeStock: TakeStock = async (tx, lines) => {
  const normalized = normalizeLines(lines);
  const products: TakenProduct[] = [];
  for (let i = 0; i < normalized.length; i++) {
    const line = normalized[i]!;
    const [row] = await queryRows<TakenRow>(
      tx,
      sql`update catalog.products
          set stock = stock - ${line.quantity}, version = version + 1, updated_at = now()
          where id = ${line.productId} and stock >= ${line.quantity} and not archived
          returning id, name, price_cents, stock, version`,
    );
    if (!row) return explainFailure(tx, normalized.slice(i));
    products.push({ id: row.id, name: row.name, priceCents: Number(row.price_cents), stockAfter: row.stock, version: Number(row.version) });
  }
  return { ok: true, products };
};

/**
 * Why the first of `rest` could not be taken, and which of the lines after it would fail too, so
 * the answer lists every short line at once. Lines not yet updated are only read (no locks taken
 * for an order that is being refused anyway).
 */
async function explainFailure(tx: Db, rest: StockLine[]): Promise<TakeStockResult> {
  const ids = rest.map((line) => line.productId);
  const rows = await queryRows<{ id: string; stock: number; archived: boolean }>(
    tx,
    sql`select id, stock, archived from catalog.products where id = any(${toUuidArray(ids)})`,
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  const unknown = ids.filter((id) => !byId.get(id) || byId.get(id)!.archived);
  if (unknown.length > 0) return { ok: false, reason: 'unknown_product', productIds: unknown };
  const items = rest
    .map((line, i) => ({ productId: line.productId, requested: line.quantity, available: byId.get(line.productId)!.stock, first: i === 0 }))
    // The first line did fail its conditional update, even if a restock has landed since.
    .filter((item) => item.first || item.available < item.requested)
    .map(({ productId, requested, available }) => ({ productId, requested, available }));
  return { ok: false, reason: 'insufficient_stock', items };
}

/** Puts units back (a cancelled order), in product-id order like every other stock writer. */
export const returnStock: ReturnStock = async (tx, lines) => {
  for (const line of normalizeLines(lines)) {
    await tx.execute(
      sql`update catalog.products
          set stock = stock + ${line.quantity}, version = version + 1, updated_at = now()
          where id = ${line.productId}`,
    );
  }
};

const toUuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;
