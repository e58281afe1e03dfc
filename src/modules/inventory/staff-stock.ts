/**
 * Staff stock changes (restock, write-off, set) that can never leave stock below the units held
 * in carts (issue 22, defect 3). A write-off takes its units the way an order does, through the
 * hold store's one atomic step against every live hold (and flash-sale mode's accepted units),
 * before the database is written; a hold racing it on another process either gets the units
 * first (the write-off is refused) or is refused itself. Reading the held units and then writing
 * is not enough: a hold can land between the read and the write, and the mirror moves only after.
 *
 * Order of steps, in one transaction: lock the product's row (so the stock read is exact and a
 * `{quantity}` knows how many units it writes off), hold the units written off under a one-off
 * holder, write the stock (and record the events the change causes, events.ts), commit; then
 * spend the hold and move the mirror to the committed stock in one store step. Any failure before
 * the commit gives the units back to the store. A restock (or a set above the stock) holds
 * nothing: more units can never take anyone's away. The row stays locked across the one Redis
 * step: a batch writing this product waits that long; nothing waits on the hold store in turn
 * (a hold never blocks, it answers), so no cycle can form.
 *
 * The store unreachable: a write-off is refused (503) — the holds it would have to respect
 * cannot be seen. Embedded (in-process store): the same steps, atomic within the one process.
 */
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { ProductChange } from './events.ts';
import type { HoldLine, HoldResult, HoldStore, StockMirror } from './holds.ts';
import { lockProducts, writeStock, type StockedProduct } from './stock.ts';

export type StaffStockChange = { delta: number } | { quantity: number };

export type StaffStockResult<T> =
  | { outcome: 'ok'; mirror: StockMirror; value: T | undefined }
  | { outcome: 'missing' }
  /** `held`: the units held by carts (and accepted, not yet written) that the change would cut into; 0: below zero. */
  | { outcome: 'below_held'; held: number };

/** A write-off's hold outlives a crashed request by this long at most (as a direct order's). */
const WRITE_OFF_HOLD_SECONDS = 30;

export function createStaffStock(deps: {
  store: HoldStore;
  primary: Db;
  logger: Logger;
  mirrorMaxAgeMs: number;
  /** Records the events of a change (`product.updated`, `inventory.low_stock`) in its transaction. */
  changed: (tx: Db, changes: ProductChange[]) => Promise<void>;
}) {
  const { store, logger } = deps;
  const quietly = (what: string) => (error: unknown) => logger.warn(briefly(error), what);

  /**
   * Holds `units` of the locked product for `holder`. The mirror decides when it is fresh; when it
   * is stale, or finds too few units, the locked row's exact figures are passed (a mirror behind a
   * restock would otherwise refuse a write-off the stock covers).
   */
  async function holdWriteOff(holder: string, product: StockedProduct, units: number): Promise<HoldResult> {
    const options = { mirrorMaxAgeMs: deps.mirrorMaxAgeMs };
    const line: HoldLine = { productId: product.id, quantity: units };
    try {
      const first = await store.setHolds(holder, [line], WRITE_OFF_HOLD_SECONDS, options);
      if (first.ok || first.reason === 'cap') return first;
      return await store.setHolds(holder, [{ ...line, stock: product.stock, version: product.version }], WRITE_OFF_HOLD_SECONDS, options);
    } catch (error) {
      throw new AppError('unavailable', 'Units held in carts cannot be checked right now; the stock was not changed', { dependency: 'redis', cause: error });
    }
  }

  /**
   * Applies `change` to product `id`; `alongside` runs in the same transaction once the stock is
   * written (other fields of a product PUT/PATCH), and is skipped when the change is refused.
   */
  async function change<T>(id: string, request: StaffStockChange, alongside?: (tx: Db) => Promise<T>): Promise<StaffStockResult<T>> {
    const holder = `stock:${newId()}`;
    let holding = false;
    const release = () => store.release(holder).catch(quietly('could not give back the units of a failed write-off; they expire by themselves'));
    let result: StaffStockResult<T>;
    try {
      result = await deps.primary.transaction(async (tx): Promise<StaffStockResult<T>> => {
        const locked = (await lockProducts(tx, [id])).get(id);
        if (!locked || locked.archived) return { outcome: 'missing' };
        const target = 'delta' in request ? locked.stock + request.delta : request.quantity;
        if (target < 0) return { outcome: 'below_held', held: 0 };
        const units = locked.stock - target;
        if (units > 0) {
          const held = await holdWriteOff(holder, locked, units);
          if (!held.ok) {
            const available = held.reason === 'insufficient' ? (held.short[0]?.available ?? 0) : 0;
            return { outcome: 'below_held', held: Math.max(0, locked.stock - available) };
          }
          holding = true;
        }
        const mirror = await writeStock(tx, id, target);
        const value = alongside ? await alongside(tx) : undefined;
        // Read again in the transaction: the events compare the row before and after, exactly.
        const after = (await lockProducts(tx, [id])).get(id);
        if (after) await deps.changed(tx, [{ before: locked, after }]);
        return { outcome: 'ok', mirror, value };
      });
    } catch (error) {
      if (holding) await release();
      throw error;
    }
    if (result.outcome !== 'ok') {
      if (holding) await release();
      return result;
    }
    // Committed: the hold is spent and the mirror moves to the new stock in one step, so no reader
    // sees the written-off units both gone from the stock and still held. Never an error answer now.
    await store.commitMany(holding ? [holder] : [], [result.mirror]).catch(quietly('stock mirror not moved after a stock change; it is re-read once it ages out'));
    return result;
  }

  return { change };
}
