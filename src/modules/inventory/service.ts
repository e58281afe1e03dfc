/**
 * Inventory: the one owner of units. The `stock` column's every change (stock.ts: lock in id
 * order, take, return, set, adjust), cart holds and order reservations (holds*.ts,
 * reservations.ts), the Redis stock mirror with its Lua (holds-lua.ts, mirror-lua.ts), flash-sale
 * mode's accepted units (accepted-units.ts) and the mirror's reconciler, and the product facts an
 * admission needs. Catalog (quantities on pages), cart and orders get this service as an argument;
 * none of them touches `stock` or a mirror key.
 */
import type { Db } from '../../platform/db.ts';
import type { Platform } from '../../platform/platform.ts';
import { createAcceptedUnits } from './accepted-units.ts';
import { createProductEvents, type RecordProductEvents } from './events.ts';
import { cartHolder, heldUnitsOrNone, insufficientStock, throttledWarn, type StockMirror } from './holds.ts';
import { createMemoryHoldStore } from './holds-memory.ts';
import { createRedisHoldStore } from './holds-redis.ts';
import { createMirrorReconciler } from './mirror-reconciler.ts';
import { createProductFacts } from './product-facts.ts';
import { createReservations } from './reservations.ts';
import { createStaffStock } from './staff-stock.ts';
import { lockedFromJson, lockProducts, normalizeLines, returnStock, seededStock, setStock, takeLines, takenFromJson, type StockedProduct, type StockLine } from './stock.ts';

export type { HeldUnits, HoldLine, HoldResult, HoldShort, Holding, StockMirror } from './holds.ts';
export type { ProductFacts } from './product-facts.ts';
export type { Reservation, Reservations } from './reservations.ts';
export type { StaffStockChange, StaffStockResult } from './staff-stock.ts';
export type { SeededStock, StockChange, StockedProduct, StockLine } from './stock.ts';
/** The seed's first stock (the demo catalog through this service; `npm run seed` directly). */
export { seededStock } from './stock.ts';
export type { AdmitReply, AdmitRequest, SettledEntry } from './accepted-units.ts';
export { LowStockEvent, ProductUpdatedEvent, type ProductChange, type ProductEvent, type RecordProductEvents } from './events.ts';

export interface InventoryDeps {
  platform: Platform;
  /** Where `product.updated` and `inventory.low_stock` go, in the transaction of the change (webhooks). */
  recordEvents?: RecordProductEvents;
}

export function createInventoryService(deps: InventoryDeps) {
  const { db, redis, kv, logger, config } = deps.platform;
  // Holds (carts, and every order for the moment it is written): Redis when configured.
  const store = redis ? createRedisHoldStore(redis) : createMemoryHoldStore();
  const mirrorFailed = throttledWarn(logger, 'stock mirror not moved after a stock change; it is re-read once it ages out');
  const reservations = createReservations({
    store,
    primary: db.primary,
    logger,
    cartTtlSeconds: config.cart.ttlSeconds,
    cartHoldMaxSeconds: config.cart.holdMaxSeconds,
    mirrorMaxAgeMs: config.catalog.mirrorMaxAgeSeconds * 1000,
  });
  const reconciler = redis ? createMirrorReconciler({ redis, primary: db.primary }) : undefined;
  const accepted = redis && reconciler ? createAcceptedUnits({ redis, primary: db.primary, load: reconciler.reconcile }) : undefined;
  const events = createProductEvents({ record: deps.recordEvents ?? (async () => {}), lowStockLine: config.catalog.lowStockLine });
  const staffStock = createStaffStock({ store, primary: db.primary, logger, mirrorMaxAgeMs: config.catalog.mirrorMaxAgeSeconds * 1000, changed: events.changed });

  /**
   * After a committed stock change outside an order (a cancel, a staff change): the mirrors move
   * forward at once, so carts and admissions trusting them see it. Never throws: the change is
   * committed, and a mirror left behind is re-read once it ages out.
   */
  async function stockCommitted(mirrors: StockMirror[]): Promise<void> {
    if (mirrors.length === 0) return;
    try {
      await store.commitMany([], mirrors);
    } catch (error) {
      mirrorFailed(error);
    }
  }

  /**
   * Write-through after a committed change of a product (created, stock set or adjusted, renamed,
   * repriced, archived), before the catalog moves its version: the mirror moves to the committed
   * stock and, on Redis, the facts an admission needs move beside it. Never throws: the change is
   * committed; a mirror left behind is re-read once it ages out, or loaded at admission.
   */
  async function productCommitted(product: StockedProduct): Promise<void> {
    try {
      await store.writeProducts([product]);
    } catch (error) {
      mirrorFailed(error);
    }
  }

  return {
    kind: store.kind,
    // Stock SQL, inside the caller's transaction (invariant 1).
    normalizeLines,
    lockProducts,
    // An order batch's lock and take run in SQL functions (stock.ts); their answers read here.
    lockedFromJson,
    takeLines,
    takenFromJson,
    /**
     * An order batch, before the take (its last round trip) on the rows it locked: a crossing of
     * the low-stock line or of zero records its event in `tx`, to commit with the take.
     */
    beforeTake: events.taking,
    /** A cancel putting units back; a crossing records its event in `tx`. */
    async returnStock(tx: Db, lines: StockLine[]): Promise<StockMirror[]> {
      const mirrors = await returnStock(tx, lines);
      await events.moved(tx, mirrors, lines, 1);
      return mirrors;
    },
    /** A staff change of one product, read before and after inside its transaction: records the events it causes there. */
    productChanged: events.changed,
    lowStockLine: config.catalog.lowStockLine,
    /** A new product's first stock, in the transaction that inserts it. */
    setStock,
    /** Seeded products' first stock, a column and value for the seed's bulk INSERT (stock.ts). */
    seededStock,
    /**
     * Staff restock, write-off or set, in a transaction of its own (with `alongside` in it): a
     * write-off holds its units first, so it never leaves stock below the units held in carts.
     */
    changeStock: staffStock.change,
    stockCommitted,
    productCommitted,
    /** Units held per product for catalog pages; Redis unreachable: nothing counts as held. */
    heldUnits: heldUnitsOrNone(store, logger),
    // Cart holds.
    cartHolder,
    setHolds: store.setHolds.bind(store),
    holdsOf: store.holdsOf.bind(store),
    release: store.release.bind(store),
    insufficientStock,
    /** Every order path: hold all lines first (one atomic step), write, then spend or release. */
    reserve: reservations.acquire,
    /** Names, prices and the archived flag of products without a database read on the hot path. */
    facts: createProductFacts({ primary: db.primary, kv, mirrored: store.mirroredProducts?.bind(store) }),
    /** Flash-sale mode's admit and settle over the mirror; absent without Redis. */
    accepted,
    async reconcileMirrors(stream: string, ids?: string[]): Promise<number> {
      if (!reconciler) return 0;
      return reconciler.reconcile(stream, ids);
    },
    close: () => store.close(),
  };
}

export type InventoryService = ReturnType<typeof createInventoryService>;
