/**
 * Reservations: what every order path takes around its database write (invariant 3): hold every
 * line first (one atomic step), then write, then spend or release the holds.
 *
 * The hold step reads no database when the hold store's stock mirror is fresh: the lines go to the
 * store without figures and the store checks them against its mirror; only products whose mirror
 * is missing or older than `mirrorMaxAgeMs` are read from the primary (the reads of one event-loop
 * turn share one query) and sent again with figures. The batch writer's locked rows stay the
 * final word (invariant 1).
 *
 * After the commit, the holds of all the orders resolved in one turn (a batch's, since the writer
 * resolves a batch at once) are spent in ONE store step that also moves the mirrors to what the
 * batch committed: a reader can never see the batch's final stock while some of its orders still
 * hold their units, which would count those units twice and refuse buyers wrongly.
 */
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import { insufficientStock, throttledWarn, type HoldLine, type HoldResult, type HoldStore, type SetHoldsOptions, type StockMirror } from './holds.ts';
import { readProducts, type StockedProduct, type StockLine } from './stock.ts';

export interface Reservation {
  /**
   * After the commit: the holds are spent (a cart's are gone with it). `committed` is the stock
   * and version of each product as the order's own transaction left them (its RETURNING).
   */
  commit(committed: StockMirror[]): Promise<void>;
  /** After a failure: a one-off order's holds are dropped; a cart keeps its own. */
  release(): Promise<void>;
}

export interface Reservations {
  /**
   * Holds every line (all or none) before the database is written. `holder` is the cart whose
   * holds convert into the order (checkout); without it a one-off holder is used (direct order).
   * Throws insufficient_stock when live holds of others leave too little.
   */
  acquire(lines: StockLine[], holder?: string): Promise<Reservation>;
}

/** A one-off holder outlives a crashed request by this long at most. */
const ORDER_HOLD_SECONDS = 30;
const NOTHING_HELD: Reservation = { commit: async () => undefined, release: async () => undefined };

/** Product reads asked for in one turn of the event loop, as one query on the primary. */
interface ReadTurn {
  ids: Set<string>;
  waiters: Array<{ resolve: (m: Map<string, StockedProduct>) => void; reject: (e: unknown) => void }>;
}

export function createProductReader(primary: Db): (ids: string[]) => Promise<Map<string, StockedProduct>> {
  let pending: ReadTurn | null = null;
  return (ids) =>
    new Promise((resolve, reject) => {
      if (!pending) {
        const turn: ReadTurn = { ids: new Set(), waiters: [] };
        pending = turn;
        setImmediate(() => {
          pending = null;
          readProducts(primary, [...turn.ids]).then(
            (found) => turn.waiters.forEach((w) => w.resolve(found)),
            (error: unknown) => turn.waiters.forEach((w) => w.reject(error)),
          );
        });
      }
      for (const id of ids) pending.ids.add(id);
      pending.waiters.push({ resolve, reject });
    });
}

/** Spends the holds of every order committed in one turn in one store step (see the top). */
interface CommitTurn {
  holders: string[];
  mirrors: Map<string, StockMirror>;
  done: Array<() => void>;
}

function commitsByTurn(store: HoldStore, onError: (error: unknown) => void) {
  let pending: CommitTurn | null = null;
  return (holder: string, mirrors: StockMirror[]) =>
    new Promise<void>((resolve) => {
      if (!pending) {
        const turn: CommitTurn = { holders: [], mirrors: new Map(), done: [] };
        pending = turn;
        setImmediate(() => {
          pending = null;
          store
            .commitMany(turn.holders, [...turn.mirrors.values()])
            .catch(onError)
            .finally(() => turn.done.forEach((d) => d()));
        });
      }
      pending.holders.push(holder);
      for (const m of mirrors) {
        const seen = pending.mirrors.get(m.productId);
        if (!seen || seen.version < m.version) pending.mirrors.set(m.productId, m);
      }
      pending.done.push(resolve);
    });
}

export function createReservations(deps: { store: HoldStore; primary: Db; logger: Logger; cartTtlSeconds: number; cartHoldMaxSeconds: number; mirrorMaxAgeMs: number }): Reservations {
  const { store, logger } = deps;
  const degraded = throttledWarn(logger, 'hold store unreachable: direct orders rely on the database guard alone');
  const quietly = (what: string) => (error: unknown) => logger.warn(briefly(error), what);
  const readBatched = createProductReader(deps.primary);
  const spend = commitsByTurn(store, quietly('could not release spent holds; they expire by themselves'));

  /** The store's verdict, reading the primary only for the products whose mirror it cannot trust. */
  async function hold(holder: string, lines: StockLine[], ttl: number, options: SetHoldsOptions): Promise<HoldResult> {
    const first = await store.setHolds(holder, lines, ttl, options);
    if (first.ok || first.reason !== 'stale') return first;
    const found = await readBatched(first.productIds);
    const stale = new Set(first.productIds);
    // Unknown or archived products are not held: the writer refuses them with 422.
    const figured: HoldLine[] = lines.flatMap((l) => {
      if (!stale.has(l.productId)) return [l];
      const p = found.get(l.productId);
      return p && !p.archived ? [{ ...l, stock: p.stock, version: p.version }] : [];
    });
    return store.setHolds(holder, figured, ttl, options);
  }

  return {
    async acquire(lines, cart) {
      const holder = cart ?? `order:${newId()}`;
      let result: HoldResult;
      try {
        // A checkout re-holds its cart's lines under the cart: the cart's lifetime still caps them.
        result = cart
          ? await hold(holder, lines, deps.cartTtlSeconds, { mirrorMaxAgeMs: deps.mirrorMaxAgeMs, maxLifetimeSeconds: deps.cartHoldMaxSeconds })
          : await hold(holder, lines, ORDER_HOLD_SECONDS, { mirrorMaxAgeMs: deps.mirrorMaxAgeMs });
      } catch (error) {
        // Invariant 7: a cart cannot be trusted without its store, a direct order can (invariant 1).
        if (cart) throw new AppError('unavailable', 'Carts are unavailable right now; try again shortly', { dependency: 'redis', cause: error });
        degraded(error);
        return NOTHING_HELD;
      }
      if (!result.ok) {
        if (result.reason === 'insufficient') throw insufficientStock(result.short, 'Not enough available stock for some items; nothing was ordered');
        // A mirror still stale right after our read: another writer moves it; the database decides.
        if (result.reason === 'stale') return NOTHING_HELD;
        throw new AppError('conflict', 'Too many units held');
      }
      return {
        // The order is committed by now: nothing here may turn it into an error answer.
        commit: cart
          ? (committed) => store.commit(holder, committed, lines).catch(quietly('could not release spent holds; they expire by themselves'))
          : (committed) => spend(holder, committed),
        release: cart ? async () => undefined : () => store.release(holder).catch(quietly('could not release holds; they expire by themselves')),
      };
    },
  };
}
