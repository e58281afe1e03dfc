/**
 * The orders service: place (idempotent), history, cancel, ship, and the background jobs (outbox
 * relay, idempotency purge). Stock changes go through the catalog's stock operations, passed in.
 */
import type { AuthUser } from '../../platform/http/auth.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import type { OrderHolds } from '../catalog/order-holds.ts';
import type { ProductFacts } from '../catalog/product-facts.ts';
import { createAsyncAdmission, type Admission } from './async-admission.ts';
import { watchStream } from './async-metrics.ts';
import { normalizeLines, type ReturnStock, type StockLine } from '../catalog/stock.ts';
import { createIdempotency, requestHash, type IdempotentOutcome } from './idempotency.ts';
import { hourlyStats } from './stats.ts';
import { createOrderWriter, type WriteRequest } from './batch-writer.ts';
import { orderEventsOf, type OrderEventSink } from './events.ts';
import * as repo from './repo.ts';
import { presentOrder, type OrderJson } from './schemas.ts';

export interface OrdersDeps {
  platform: Platform;
  stock: { returnStock: ReturnStock };
  /** Called after a commit that changed stock (the catalog invalidates its cached pages there). */
  onStockChanged?: (productIds: string[]) => void | Promise<void>;
  /** Live stock holds (catalog/holds.ts): every order holds its lines first (invariant 3). Absent: none. */
  holds?: OrderHolds | undefined;
  /** Names and prices without a database read: flash-sale admission (ORDERS_MODE=async) needs them. */
  facts?: ProductFacts | undefined;
  /**
   * Consumers of the order events (webhooks, customer mails): the relay hands them each batch in
   * the transaction that marks its records relayed, so an event is never dropped nor consumed twice.
   */
  eventSinks?: OrderEventSink[];
}

export interface PlaceOptions {
  idempotencyKey?: string | undefined;
  /** Hash of the request the key was sent with; defaults to a hash of the normalized lines. */
  requestHash?: string | undefined;
  /** Cart checkout: the cart whose holds convert into the order. */
  holder?: string | undefined;
  /**
   * Cart checkout: reads the lines inside the idempotent section, so a replay answers even though
   * the first run emptied the cart. Replaces `lines`.
   */
  resolveLines?: (() => Promise<StockLine[]>) | undefined;
}

const OUTBOX_STREAM = 'events:orders';
const OUTBOX_BATCH = 100;
const OUTBOX_RETENTION_SECONDS = 7 * 24 * 60 * 60;

export function createOrdersService(deps: OrdersDeps) {
  const { platform, stock } = deps;
  const { db, logger, config } = platform;
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

  const writer = createOrderWriter({
    primary: db.primary,
    logger,
    retentionSeconds,
    maxBatch: config.orders.batchMax,
    queueTimeoutMs: config.orders.queueTimeoutMs,
    afterCommit: stockChanged,
  });

  /**
   * Invariant 3: every line is held (all or none) before the writer sees the order, so units live
   * in someone's cart are not taken; the writer's locked rows stay the final word (invariant 1).
   */
  async function holdAndWrite(customerId: string, lines: StockLine[], holder: string | undefined, idem: WriteRequest['idempotency']) {
    let hold;
    try {
      hold = await deps.holds?.acquire(lines, holder);
    } catch (error) {
      // A replay must not be refused because the units it bought are gone since.
      const stored = idem && error instanceof AppError ? await idempotency.storedResponse<OrderJson>(customerId, idem.key, idem.hash) : undefined;
      if (stored) return { ...stored, replayed: true };
      throw error;
    }
    const outcome = await writer.place({ customerId, lines, idempotency: idem });
    if (outcome.kind === 'written') {
      await hold?.commit(outcome.stock);
      return { status: 201, body: outcome.body, replayed: false };
    }
    await hold?.release();
    if (outcome.kind === 'refused') throw outcome.error;
    if (outcome.kind === 'replayed') return { status: outcome.status, body: outcome.body as OrderJson, replayed: true };
    return { status: 201, body: outcome.body, replayed: false };
  }

  // Flash-sale mode: Redis admits, the worker writes (async-admission.ts, async-worker.ts).
  const admission =
    config.orders.mode === 'async' && platform.redis && deps.facts
      ? createAsyncAdmission({ redis: platform.redis, facts: deps.facts, retentionSeconds })
      : undefined;
  if (admission && platform.redis) watchStream(platform.redis);

  async function replay(customerId: string, seen: Extract<Admission, { kind: 'replay' }>): Promise<IdempotentOutcome<OrderJson>> {
    return { status: seen.status, body: await getOrder(customerId, seen.orderId), replayed: true };
  }

  /**
   * 202 `pending` when Redis admits the order; a product without a mirror goes through the sync
   * path (201), which loads the mirror for the next order.
   */
  async function placeAsync(customerId: string, lines: StockLine[], options: PlaceOptions, hash: string): Promise<IdempotentOutcome<OrderJson>> {
    const idem = options.idempotencyKey === undefined ? undefined : { key: options.idempotencyKey, hash };
    // A checkout's replay must answer although the first run emptied the cart: look before reading it.
    const seen = idem && options.resolveLines ? await admission!.storedKey(customerId, idem) : undefined;
    if (seen?.kind === 'replay') return replay(customerId, seen);
    const wanted = options.resolveLines ? await options.resolveLines() : lines;
    const admitted = await admission!.admit(customerId, wanted, { holder: options.holder, idempotency: idem });
    if (admitted.kind === 'replay') return replay(customerId, admitted);
    if (admitted.kind === 'accepted') return { status: 202, body: admitted.body, replayed: false };
    const written = await placeSync(customerId, wanted, { ...options, resolveLines: options.resolveLines && (async () => wanted) }, hash);
    if (idem && !written.replayed) {
      await admission!.remember(customerId, idem, written.body.id, written.status).catch((error: unknown) => logger.warn({ err: error }, 'could not record the key in Redis'));
    }
    return written;
  }

  /**
   * The cart's per-line cap binds every order path: without it a direct order was the way around
   * it (10,000 units a line), and with MAX_LINES_PER_ORDER it bounds an order's units, which keeps
   * its total within ten integer digits (platform/money.ts). Repeated products count summed.
   */
  function checkLineCaps(lines: StockLine[]): void {
    const max = config.cart.maxUnitsPerLine;
    const over = normalizeLines(lines).filter((l) => l.quantity > max);
    if (over.length === 0) return;
    const errors = over.map((l) => ({ field: 'order_items', message: `product ${l.productId}: ${l.quantity} units; at most ${max} per product` }));
    throw new AppError('validation_failed', `An order holds at most ${max} units of each product`, { errors });
  }

  async function placeOrder(customerId: string, lines: StockLine[], options: PlaceOptions = {}): Promise<IdempotentOutcome<OrderJson>> {
    if (!options.resolveLines) checkLineCaps(lines);
    const hash = options.requestHash ?? requestHash('orders.place', normalizeLines(lines));
    return admission ? placeAsync(customerId, lines, options, hash) : placeSync(customerId, lines, options, hash);
  }

  async function placeSync(customerId: string, lines: StockLine[], options: PlaceOptions, hash: string): Promise<IdempotentOutcome<OrderJson>> {
    const key = options.idempotencyKey;
    // A direct order's key is claimed and completed inside its batch (batch-writer.ts).
    if (!options.resolveLines) return holdAndWrite(customerId, lines, options.holder, key === undefined ? undefined : { key, hash });
    // Cart checkout reads its lines inside the idempotent section (the key claimed first), so a
    // replay answers even after the first run emptied the cart; the writer completes that claim.
    const resolveLines = options.resolveLines;
    return idempotency.withIdempotency<OrderJson>(customerId, key, hash, async (_complete, leaseToken) => {
      const wanted = await resolveLines();
      const written = await holdAndWrite(customerId, wanted, options.holder, key === undefined ? undefined : { key, hash, leaseToken });
      return { status: written.status, body: written.body };
    });
  }

  /**
   * Own orders only; another customer's is indistinguishable from a missing one. Read on the
   * primary: read-your-writes. Flash-sale mode: Redis first, so polling a pending order costs no
   * database read (its record is dropped only after the commit, so one of the two has it). While
   * Redis is down a written order is still answered from the database; only an order the database
   * does not have yet (maybe pending) gets 503.
   */
  async function getOrder(customerId: string, id: string): Promise<OrderJson> {
    const pending = admission ? await admission.pendingOrder(id) : { kind: 'none' as const };
    if (pending.kind === 'pending') {
      if (pending.value.customer !== customerId) throw notFound('Order');
      return pending.value;
    }
    const order = await repo.findOrder(db.primary, id);
    if (!order && pending.kind === 'unreachable') throw pendingUnknown();
    if (!order || order.customerId !== customerId) throw notFound('Order');
    return presentOrder(order);
  }

  const pendingUnknown = () =>
    new AppError('unavailable', 'Pending orders cannot be read right now; try again', { dependency: 'redis', headers: { 'retry-after': '1' } });

  /**
   * A customer sees only their own orders; staff every customer's, optionally of one customer.
   * On the primary: a customer's new order and a status staff just changed show at once.
   */
  async function listOrders(viewer: AuthUser, filter: repo.OrderFilter, limit: number, offset: number) {
    const scoped = viewer.role === 'staff' ? filter : { status: filter.status, customerId: viewer.id };
    // Flash-sale mode: a customer's pending orders (in Redis until written) are their newest, so
    // they lead the history; read before the database so one written meanwhile is in one of the two.
    // Redis down: the written orders alone (a list of only pending ones cannot be answered).
    const showPending = admission !== undefined && viewer.role !== 'staff' && (filter.status === undefined || filter.status === 'pending');
    const lookup = showPending ? await admission.pendingOf(viewer.id) : undefined;
    if (lookup?.kind === 'unreachable' && filter.status === 'pending') throw pendingUnknown();
    const pending = lookup?.kind === 'pending' ? lookup.value : [];
    const head = pending.slice(offset, offset + limit);
    const page = await repo.listOrders(db.primary, scoped, limit - head.length, Math.max(0, offset - pending.length));
    const shown = new Set(pending.map((o) => o.id));
    const written = page.orders.filter((o) => !shown.has(o.id)).map(presentOrder);
    return { count: page.count + pending.length, results: [...head, ...written] };
  }

  /** Why a transition did not happen: missing or not visible → 404, wrong state → 409. */
  async function refuseTransition(id: string, actor: AuthUser, action: string): Promise<never> {
    const order = await repo.findOrder(db.primary, id);
    if (!order || (actor.role !== 'staff' && order.customerId !== actor.id)) throw notFound('Order');
    throw new AppError('conflict', `A ${order.status} order cannot be ${action}`);
  }

  /**
   * Cancel: the conditional status change and the restock are one transaction, and only the
   * request whose update matched restocks, so a double cancel cannot return units twice.
   */
  async function cancelOrder(actor: AuthUser, id: string): Promise<OrderJson> {
    const order = await db.primary.transaction(async (tx) => {
      const visible = await repo.findOrder(tx, id);
      if (!visible || (actor.role !== 'staff' && visible.customerId !== actor.id)) return undefined;
      const reason = actor.role === 'staff' && visible.customerId !== actor.id ? 'staff' : 'customer';
      const cancelled = await repo.transitionStatus(tx, id, ['confirmed'], 'cancelled', reason);
      if (!cancelled) return undefined;
      const mirrors = await stock.returnStock(tx, cancelled.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })));
      await repo.insertOutbox(tx, 'order.cancelled', { order_id: id, customer_id: cancelled.customerId, cancelled_by: actor.id });
      return { ...cancelled, mirrors };
    });
    if (!order) return refuseTransition(id, actor, 'cancelled');
    // The units are back: carts see them at once through the mirror, not after it ages out.
    await Promise.all([stockChanged(order.lines.map((l) => l.productId)), deps.holds?.advance(order.mirrors)]);
    return presentOrder(order);
  }

  async function shipOrder(actor: AuthUser, id: string): Promise<OrderJson> {
    const order = await db.primary.transaction(async (tx) => {
      const shipped = await repo.transitionStatus(tx, id, ['confirmed'], 'shipped');
      if (shipped) await repo.insertOutbox(tx, 'order.shipped', { order_id: id, customer_id: shipped.customerId });
      return shipped;
    });
    if (!order) return refuseTransition(id, actor, 'shipped');
    return presentOrder(order);
  }

  /**
   * Publishes unpublished outbox records (to the Redis stream when Redis is configured), hands
   * their events to the sinks and marks them, in one transaction. The stream is at least once (a
   * crash between publishing and the commit publishes a batch again, so its readers deduplicate on
   * `outbox_id`); the sinks write in the same transaction, so they get each event exactly once.
   */
  async function relayOutbox(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 10; round++) {
      const published = await db.primary.transaction(async (tx) => {
        const rows = await repo.lockUnpublished(tx, OUTBOX_BATCH);
        if (rows.length === 0) return 0;
        if (platform.redis) {
          const pipeline = platform.redis.pipeline();
          for (const row of rows) pipeline.xadd(OUTBOX_STREAM, '*', 'topic', row.topic, 'outbox_id', String(row.id), 'payload', JSON.stringify(row.payload));
          const results = await pipeline.exec();
          const failed = results?.find(([error]) => error);
          if (failed) throw failed[0];
        }
        const sinks = deps.eventSinks ?? [];
        if (sinks.length > 0) {
          const events = await orderEventsOf(tx, rows);
          for (const sink of sinks) await sink(tx, events);
        }
        await repo.markPublished(tx, rows.map((r) => Number(r.id)));
        return rows.length;
      });
      total += published;
      if (published < OUTBOX_BATCH) break;
    }
    return total;
  }

  async function purgeExpiredIdempotencyKeys(): Promise<number> {
    const keys = await idempotency.purgeExpired();
    const outbox = await repo.purgePublishedOutbox(db.primary, OUTBOX_RETENTION_SECONDS);
    if (keys + outbox > 0) logger.info({ keys, outbox }, 'purged expired idempotency keys and old outbox records');
    return keys;
  }

  return {
    /** Base of `next`/`previous` links when configured (behind a proxy). */
    publicUrl: platform.config.http.publicUrl,
    placeOrder,
    withIdempotency: idempotency.withIdempotency,
    requestHash,
    getOrder,
    listOrders,
    hourlyStats: (date: string) => hourlyStats(db, date),
    cancelOrder,
    shipOrder,
    relayOutbox,
    purgeExpiredIdempotencyKeys,
    /** The batching writer itself: flash-sale mode's worker writes accepted orders through it. */
    write: (req: WriteRequest) => writer.place(req),
    /** Writes what is queued, then refuses new orders; before the database closes. */
    close: () => writer.close(),
  };
}

export type OrdersService = ReturnType<typeof createOrdersService>;
