/**
 * Holds: units of stock set aside for a holder (a cart, or a direct order for the moment it is
 * being written). Invariants 3 and 4 live here:
 *  - availability for a holder = stock − units held by OTHER live holders; the holder's own units
 *    count as available to it, so a checkout gets what its cart holds;
 *  - every hold carries its expiry, and availability only counts unexpired holds, so an abandoned
 *    cart's units come back after its TTL with no job running. Expired entries are pruned by the
 *    next operation on the same product (and swept in-process), so memory stays bounded.
 *
 * Stock for the check comes from a per-product mirror of the database stock with its version kept
 * in the store. Callers pass the stock and version they just read from the primary; the store moves
 * the mirror forward only when that version is newer, so a lagging mirror can only under-promise.
 * The database conditional update (stock.ts) stays the final word (invariant 1).
 *
 * Two implementations pass one contract suite (holds.contract.test.ts): Redis (Lua scripts, one
 * atomic step per request) and in-process (the embedded default).
 */
import type { Logger } from 'pino';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { StockedProduct } from './stock.ts';

/** Units held in live carts per product id (absent ids hold nothing): what a catalog page subtracts. */
export type HeldUnits = ((productIds: string[]) => Promise<Map<string, number>>) & {
  /**
   * The same held units plus a key-value counter (the catalog version) in one store command, when
   * the hold store shares the key-value store's Redis; throws instead of degrading.
   */
  withCounter?: (productIds: string[], counterKey: string) => Promise<{ counter: string; held: Map<string, number> }>;
};

/** Units of a product an order took from its holder (a checkout's commit). */
export interface SpentLine {
  productId: string;
  quantity: number;
}

export interface HoldLine {
  productId: string;
  /** The holder's new total for this product; 0 drops the hold. */
  quantity: number;
  /**
   * Database stock and version the caller read (ignored for quantity 0). Left out: the store's
   * mirror is used, and when it is missing or older than `mirrorMaxAgeMs` the call changes
   * nothing and answers `stale` with the products to read from the database.
   */
  stock?: number | undefined;
  version?: number | undefined;
}

export interface HoldShort {
  productId: string;
  requested: number;
  available: number;
}

export type HoldResult =
  /** `lines`: everything the holder holds after the change. */
  | { ok: true; expiresAt: number; lines: Map<string, number> }
  | { ok: false; reason: 'stale'; productIds: string[] }
  | { ok: false; reason: 'insufficient'; short: HoldShort[] }
  | { ok: false; reason: 'cap'; limit: number; total: number };

export interface SetHoldsOptions {
  /** Refuse a change that would leave the holder holding more units than this in total. */
  maxUnitsTotal?: number;
  /** Products the caller believes the holder holds: saves the store a retry round trip when right. */
  knownProducts?: string[];
  /** Lines without figures trust a mirror confirmed at most this long ago (default 30 s). */
  mirrorMaxAgeMs?: number;
  /**
   * The holder's holds never outlive this many seconds after its first hold (a cart's maximum
   * life): each change moves the expiry to min(now + ttl, start + this). The start is kept by the
   * store with the holds and expires with them; a holder that holds nothing starts afresh.
   */
  maxLifetimeSeconds?: number;
}

export const DEFAULT_MIRROR_MAX_AGE_MS = 30_000;

export interface Holding {
  /** productId → units held; empty when the holder has nothing (or it all expired). */
  lines: Map<string, number>;
  /** Epoch ms when the holder's holds expire; null when it holds nothing. */
  expiresAt: number | null;
}

export interface StockMirror {
  productId: string;
  stock: number;
  version: number;
}

export interface HoldStore {
  readonly kind: 'redis' | 'memory';
  /**
   * Sets the holder's hold on each line (all lines or none) and moves the expiry of ALL the
   * holder's holds to now + ttl (capped by `maxLifetimeSeconds`). Growing a line needs the units
   * to be available; shrinking never fails. No lines: only refreshes the expiry (touch).
   */
  setHolds(holder: string, lines: HoldLine[], ttlSeconds: number, options?: SetHoldsOptions): Promise<HoldResult>;
  holdsOf(holder: string): Promise<Holding>;
  /** Drops the holder's holds on these products, or all of them. */
  release(holder: string, productIds?: string[]): Promise<void>;
  /**
   * After a database commit: drops every hold of the holder and moves each product's mirror to the
   * committed stock when its version is newer than the mirror's. With `spent` (a checkout), only
   * those units are taken off the holder's lines, in one atomic step: a line or units the cart
   * gained after the checkout read it stay held (a concurrent `PUT` never vanishes).
   */
  commit(holder: string, mirrors: StockMirror[], spent?: SpentLine[]): Promise<void>;
  /**
   * `commit` of many holders in one atomic step (a batch's orders): no reader sees the batch's
   * stock while some of its holds still count. No holders: only moves the mirrors forward (a
   * cancel, a staff change). Each holder's products must all be among `mirrors`' or `productIds`.
   */
  commitMany(holders: string[], mirrors: StockMirror[], productIds?: string[]): Promise<void>;
  /** Live held units per product (one round trip for a page), leaving out one holder's own. */
  heldUnits(productIds: string[], excludeHolder?: string): Promise<Map<string, number>>;
  /**
   * heldUnits (no holder left out) plus the value of a counter of the key-value store, started
   * when missing, in one command. Only a store sharing the key-value store's client has it.
   */
  heldUnitsWithCounter?(productIds: string[], counterKey: string): Promise<{ counter: string; held: Map<string, number> }>;
  /**
   * After a committed product change: the mirrors move forward and, where the store can keep them
   * for other processes (Redis), the products' facts too (WRITE_PRODUCTS).
   */
  writeProducts(products: StockedProduct[]): Promise<void>;
  /** Products as the store's mirror has them (stock, version and facts); absent: not mirrored. Redis only. */
  mirroredProducts?(ids: string[]): Promise<Map<string, StockedProduct>>;
  close(): Promise<void>;
}

/** Sums repeated products: a request holding the same product twice holds the sum. */
export function mergeHoldLines(lines: HoldLine[]): HoldLine[] {
  const merged = new Map<string, HoldLine>();
  for (const line of lines) {
    const seen = merged.get(line.productId);
    const stock = seen?.stock === undefined || line.stock === undefined ? (seen?.stock ?? line.stock) : Math.min(seen.stock, line.stock);
    if (seen) merged.set(line.productId, { ...seen, quantity: seen.quantity + line.quantity, stock, version: seen.version ?? line.version });
    else merged.set(line.productId, { ...line });
  }
  return [...merged.values()];
}

export const cartHolder = (customerId: string) => `cart:${customerId}`;

export function insufficientStock(short: HoldShort[], detail: string): AppError {
  return new AppError('insufficient_stock', detail, {
    extra: { items: short.map((s) => ({ product: s.productId, requested: s.requested, available: s.available })) },
  });
}

/** Logs a failing hold store at most every 30 s: while Redis is down every request would. */
export function throttledWarn(logger: Logger, message: string) {
  let last = 0;
  return (error: unknown) => {
    if (Date.now() - last < 30_000) return;
    last = Date.now();
    logger.warn(briefly(error), message);
  };
}

/**
 * Held units for the catalog's quantities. Redis unreachable: nothing counts as held, so the
 * catalog keeps answering from the database (invariant 7); orders stay safe through invariant 1.
 */
export function heldUnitsOrNone(store: HoldStore, logger: Logger): HeldUnits {
  const degraded = throttledWarn(logger, 'hold store unreachable: catalog quantities ignore holds until it is back');
  const heldUnits: HeldUnits = async (productIds: string[]): Promise<Map<string, number>> => {
    try {
      return await store.heldUnits(productIds);
    } catch (error) {
      degraded(error);
      return new Map();
    }
  };
  // Errors propagate here: the caller falls back on the two separate reads, each degrading as above.
  if (store.heldUnitsWithCounter) heldUnits.withCounter = store.heldUnitsWithCounter.bind(store);
  return heldUnits;
}
