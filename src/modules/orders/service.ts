/**
 * The orders service: place (idempotent), history, cancel, ship, and the background jobs (outbox
 * relay, idempotency purge; in flash-sale mode the accepted-order worker and the reconciler). Units
 * are inventory's, passed in. The placement mode is chosen here, once: sync (place.ts) or
 * flash-sale (flash-sale/placement.ts, ORDERS_MODE=async).
 */
import type { Platform } from '../../platform/platform.ts';
import type { InventoryService, StockLine } from '../inventory/service.ts';
import { createOrderWriter, type WriteRequest } from './batch-writer.ts';
import { createAsyncAdmission } from './flash-sale/admission.ts';
import { watchStream } from './flash-sale/metrics.ts';
import { createFlashSalePlacement } from './flash-sale/placement.ts';
import { createAsyncReconciler } from './flash-sale/reconciler.ts';
import { createReceivedMails, type QueueReceivedMails } from './flash-sale/received-mails.ts';
import { createAsyncWorker, type AsyncWorkerDeps } from './flash-sale/worker.ts';
import { AppError } from '../../platform/errors.ts';
import type { OrderEventSink } from './events.ts';
import { createIdempotency, requestHash, type IdempotentOutcome } from './idempotency.ts';
import { createOutboxJobs } from './outbox.ts';
import { createSyncPlacement, type Place, type PlaceOptions } from './place.ts';
import { createOrderReads, NO_PENDING } from './read.ts';
import type { OrderJson } from './schemas.ts';
import { hourlyStats } from './stats.ts';
import { createTransitions } from './transitions.ts';

export type { PlaceOptions } from './place.ts';
/** The wire shapes of an order, for another module's route that answers with one (cart checkout). */
export { IdempotencyHeaders, OrderJson, PendingOrder } from './schemas.ts';
/** Order events for the composition root's consumers (webhooks, customer mails). */
export type { OrderEvent, OrderEventSink } from './events.ts';
export { orderMail, receivedMail } from './mails.ts';
export type { QueueReceivedMails } from './flash-sale/received-mails.ts';
/** Flash-sale mode's durability rule: the start-up guard and check:production's probe. */
export { assertAsyncOrdersStore, redisDurability } from './flash-sale/durability.ts';

export interface OrdersDeps {
  platform: Platform;
  inventory: InventoryService;
  /** Called after a commit that changed stock (the catalog invalidates its cached pages there). */
  onStockChanged?: (productIds: string[]) => void | Promise<void>;
  /**
   * Consumers of the order events (webhooks, customer mails): the relay hands them each batch in
   * the transaction that marks its records relayed, so an event is never dropped nor consumed twice.
   */
  eventSinks?: OrderEventSink[];
  /** Flash-sale mode: queues the "received" mails of accepted orders (identity's mail outbox), in the transaction given. */
  queueReceivedMails?: QueueReceivedMails;
}

export function createOrdersService(deps: OrdersDeps) {
  const { platform, inventory } = deps;
  const { db, logger, config, redis } = platform;
  const retentionSeconds = config.orders.idempotencyTtlHours * 3600;
  const idempotency = createIdempotency(db.primary, retentionSeconds);

  async function stockChanged(productIds: string[]) {
    try {
      await deps.onStockChanged?.(productIds);
    } catch (error) {
      // The order is committed; a failed cache invalidation must not turn it into an error answer.
      logger.warn({ err: error, productIds }, 'onStockChanged failed');
    }
  }

  // Each writer holds a primary connection while it writes: at most half the pool, so reads, key
  // look-ups and cancels keep connections. Embedded PGlite has one connection: one writer.
  const poolMax = db.raw.kind === 'postgres' ? db.raw.pool.options.max : 1;
  const writer = createOrderWriter({
    primary: db.primary,
    partitions: Math.max(1, Math.min(config.orders.writers, Math.floor(poolMax / 2))),
    stock: inventory,
    logger,
    retentionSeconds,
    maxBatch: config.orders.batchMax,
    queueTimeoutMs: config.orders.queueTimeoutMs,
    afterCommit: stockChanged,
  });
  const sync = createSyncPlacement({ inventory, writer, idempotency, kv: platform.kv, logger });

  // Flash-sale mode: Redis admits, the worker writes (flash-sale/). Chosen once, here.
  const accepted = inventory.accepted;
  const admission = config.orders.mode === 'async' && redis && accepted ? createAsyncAdmission({ redis, inventory: { ...inventory, accepted }, retentionSeconds }) : undefined;
  if (admission && redis) watchStream(redis);
  const reads = createOrderReads({ primary: db.primary, pending: admission ?? NO_PENDING });
  const received = admission && deps.queueReceivedMails ? createReceivedMails({ primary: db.primary, logger, queue: deps.queueReceivedMails }) : undefined;
  const place: Place = admission ? createFlashSalePlacement({ admission, getOrder: reads.getOrder, onAccepted: received?.add }) : sync;

  /**
   * The cart's per-line cap binds every order path: without it a direct order was the way around
   * it (10,000 units a line), and with MAX_LINES_PER_ORDER it bounds an order's units, which keeps
   * its total within ten integer digits (platform/money.ts). Repeated products count summed.
   */
  function checkLineCaps(lines: StockLine[]): void {
    const max = config.cart.maxUnitsPerLine;
    const over = inventory.normalizeLines(lines).filter((l) => l.quantity > max);
    if (over.length === 0) return;
    const errors = over.map((l) => ({ field: 'order_items', message: `product ${l.productId}: ${l.quantity} units; at most ${max} per product` }));
    throw new AppError('validation_failed', `An order holds at most ${max} units of each product`, { errors });
  }

  async function placeOrder(customerId: string, lines: StockLine[], options: PlaceOptions = {}): Promise<IdempotentOutcome<OrderJson>> {
    if (!options.resolveLines) checkLineCaps(lines);
    return place(customerId, lines, options, options.requestHash ?? requestHash('orders.place', inventory.normalizeLines(lines)));
  }

  const flashSale =
    admission && redis
      ? {
          /** The accepted-order consumer (the worker process runs one). */
          worker: (options: Partial<Pick<AsyncWorkerDeps, 'claimIdleMs' | 'maxDeliveries' | 'batch'>> = {}) =>
            createAsyncWorker({
              redis,
              primary: db.primary,
              inventory,
              logger,
              write: (req: WriteRequest) => writer.place(req),
              claimIdleMs: options.claimIdleMs ?? config.orders.claimIdleMs,
              maxDeliveries: options.maxDeliveries ?? config.orders.maxDeliveries,
              batch: options.batch,
            }),
          reconciler: () => createAsyncReconciler({ redis, inventory }),
        }
      : undefined;

  return {
    /** Base of `next`/`previous` links when configured (behind a proxy). */
    publicUrl: platform.config.http.publicUrl,
    placeOrder,
    withIdempotency: idempotency.withIdempotency,
    requestHash,
    ...reads,
    hourlyStats: (date: string) => hourlyStats(db, date),
    ...createTransitions({ primary: db.primary, inventory, stockChanged }),
    ...createOutboxJobs({ platform, idempotency, eventSinks: deps.eventSinks ?? [], receivedMails: received !== undefined }),
    /** The batching writer itself: flash-sale mode's worker writes accepted orders through it. */
    write: (req: WriteRequest) => writer.place(req),
    /** Flash-sale mode's worker and reconciler; absent in sync mode. */
    flashSale,
    /** Writes what is queued (orders, received mails), then refuses new orders; before the database closes. */
    async close() {
      await received?.close();
      await writer.close();
    },
  };
}

export type OrdersService = ReturnType<typeof createOrdersService>;
