/**
 * The batching order writer: application-level group commit. Every order path ends here.
 *
 *   const writer = createOrderWriter(deps);
 *   const outcome = await writer.place({ customerId, lines, idempotency?, orderId?, onShort? });
 *   // outcome.kind: 'written' | 'existing' | 'replayed' | 'refused' (see WriteOutcome); never rejects
 *   await writer.close(); // writes what is queued, then refuses new requests (503)
 *
 * Several writers per process (`partitions`, ORDERS_WRITERS), each owning a partition of product
 * ids (partitionOf: the partition of an order's smallest product id), each with one batch in flight:
 * orders on disjoint rows do not queue behind one batch, and every single-product order of a
 * product goes to the same writer (one writer per hot row). An order whose lines fall in two
 * partitions goes to one writer, which locks all its rows in id order like every batch — so two
 * writers' batches that share rows queue on each other's row locks and never deadlock, exactly as
 * the batches of two processes do. Requests that arrive while a writer's batch is being written
 * queue and form its next batch (at most `maxBatch`); on an idle server a request is written at
 * once (the batch starts on the next turn of the event loop, no timer). Each batch is one
 * transaction on the primary in two round trips (platform/db.ts inTwoTrips; the SQL functions are
 * migrations/0350_orders_batch_trips.sql):
 *   trip 1, `BEGIN; select orders.batch_begin(…)`:
 *     1. lock the batch's product rows in id order (inventory's catalog.stock_lock: FOR UPDATE);
 *     2. claim or lock the batch's idempotency keys (one statement, key order) — only when keyed;
 *     3. read back orders already under the batch's ids — only for caller-fixed ids, or on a retry;
 *   4. decide every request in arrival order (batch-decide.ts, no I/O), row locks held; a take
 *      that crosses the low-stock line or zero records its product events (inventory's
 *      beforeTake) — one more round trip, only then;
 *   trip 2, `select orders.batch_finish(…); COMMIT`:
 *     5. write the orders, lines, outbox records and key outcomes (multi-row, from JSON);
 *     6. take the stock, one conditional update per product (inventory's catalog.stock_take), last.
 * (Was six: BEGIN, lock, keys, write, take, COMMIT.) Then the writer takes its next batch while
 * `afterCommit` (the catalog version) runs for this one — one at a time per process, the batches
 * committed meanwhile sharing the next run — and then this batch's requests resolve.
 *
 * Failures. Ids are fixed before the first attempt, so running a batch again is safe: an attempt
 * whose commit did land (a connection lost during COMMIT) is found by step 3 and reported as
 * written, never written twice. A transient failure (serialization, deadlock, lost connection, a
 * concurrent insert of one of the ids) retries the whole batch, up to 3 attempts — but not after
 * a deadline ran out (statement, lock, read or connect timeout): the request has waited its
 * bound, and a batch stuck behind a lock would wait three times as long; after that one
 * read looks for the batch's ids (an attempt may have committed with its reply lost): what exists
 * is reported written, every other request gets 503 `unavailable` with Retry-After — nothing of it
 * was written — and if that read fails too, a 503 that says the outcome is not known (a retry with
 * the same Idempotency-Key tells). Any other error (a fault in one request) splits the batch in
 * halves and retries each, so only the request that fails on its own gets the error and its
 * neighbours are written.
 *
 * A request still queued after `queueTimeoutMs` gets 503 `unavailable` (Retry-After) and is never
 * written. Several processes, each with its own writer, stay correct: the row locks are the
 * database's, taken in id order (products, then keys), so batches of two processes queue on each
 * other and never deadlock.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { inTwoTrips, type Db } from '../../platform/db.ts';
import { briefly, failedDependency, ranOutOfTime } from '../../platform/dependencies.ts';
import { AppError, findPgError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { InventoryService } from '../inventory/service.ts';
import { decideBatch, type Entry, type WriteOutcome, type WriteRequest } from './batch-decide.ts';
import { batchKeys, LEASE_SECONDS, lockedKeysFromJson } from './idempotency.ts';
import * as repo from './repo.ts';
import { presentOrder } from './schemas.ts';
import type { Order } from './tables.ts';

export type { WriteOutcome, WriteRequest } from './batch-decide.ts';

export interface OrderWriterDeps {
  primary: Db;
  /** Inventory's reading of its stock functions' answers (lock in id order, take: invariant 1). */
  stock: Pick<InventoryService, 'lockedFromJson' | 'beforeTake' | 'takeLines' | 'takenFromJson' | 'normalizeLines'>;
  logger: Logger;
  /** How long a completed key is kept for replay. */
  retentionSeconds: number;
  /** Most orders per transaction. */
  maxBatch: number;
  /** Longest a request may wait in the queue before it is answered 503. */
  queueTimeoutMs: number;
  /**
   * Writers, each owning a partition of product ids (partitionOf); default 1. Each holds one pooled
   * connection while it writes a batch.
   */
  partitions?: number | undefined;
  /**
   * After each committed batch that changed stock, before its requests resolve, but not before the
   * writer's next batch: calls that arrive while one runs share the next run (coalescing).
   */
  afterCommit?: (productIds: string[]) => Promise<void>;
}

export interface OrderWriter {
  place(req: WriteRequest): Promise<WriteOutcome>;
  close(): Promise<void>;
  /** Requests waiting for a batch (metrics, tests). */
  queued(): number;
}

/** `orders.batch_begin`'s answer (migrations/0350_orders_batch_trips.sql). */
interface Begun {
  products: Parameters<InventoryService['lockedFromJson']>[0];
  keys: Parameters<typeof lockedKeysFromJson>[0];
  orders: repo.OrderRow[];
  lines: repo.LineRow[];
}
type Taken = Parameters<InventoryService['takenFromJson']>[0];

interface Queued extends Entry {
  enqueuedAt: number;
  resolve: (outcome: WriteOutcome) => void;
}

const ATTEMPTS = 3;
const RETRY_AFTER = { 'retry-after': '1' };

const unavailable = (detail: string, cause?: unknown) => ({
  kind: 'refused' as const,
  error: new AppError('unavailable', detail, { headers: RETRY_AFTER, ...(cause === undefined ? {} : { dependency: 'database' as const, cause }) }),
});

/**
 * Worth running again: the database or the connection failed (platform/dependencies.ts), or the
 * batch lost a race — a serialization failure or deadlock (40…), or another writer inserting one
 * of its ids first (23505: the next attempt finds that order).
 */
export function isTransient(error: unknown): boolean {
  if (failedDependency(error) === 'database') return true;
  const code = findPgError(error)?.code;
  return code !== undefined && (code.startsWith('40') || code === '23505');
}

/**
 * The writer a request goes to: the partition of its smallest product id (FNV-1a of the id, mod
 * `partitions`). Every single-product order of a product goes to one writer (one writer per hot
 * row); an order spanning partitions goes to one of them, which locks all its rows in id order.
 */
export function partitionOf(productIds: readonly string[], partitions: number): number {
  if (partitions <= 1 || productIds.length === 0) return 0;
  let smallest = productIds[0]!;
  for (const id of productIds) if (id < smallest) smallest = id;
  let hash = 0x811c9dc5;
  for (let i = 0; i < smallest.length; i++) hash = Math.imul(hash ^ smallest.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % partitions;
}

/**
 * `fn` once per call, each run starting after its call, never two at a time: calls that arrive
 * while a run is under way share the one run after it (with their ids merged). For the catalog
 * version: one move after a commit is all a reader needs, and one at a time keeps the recorded
 * WAL position moving forward. `fn` must not reject.
 */
export function coalescing(fn: (ids: string[]) => Promise<void>): (ids: string[]) => Promise<void> {
  let inFlight: Promise<void> | null = null;
  let waiting: { ids: Set<string>; done: Promise<void> } | null = null;
  const launch = (ids: string[]) => {
    const run: Promise<void> = fn(ids).finally(() => {
      if (inFlight === run) inFlight = null;
    });
    inFlight = run;
    return run;
  };
  return (ids) => {
    if (!inFlight) return launch(ids);
    if (!waiting) {
      const merged = new Set<string>();
      const done = inFlight.then(() => {
        waiting = null;
        return launch([...merged]);
      });
      waiting = { ids: merged, done };
    }
    for (const id of ids) waiting.ids.add(id);
    return waiting.done;
  };
}

export function createOrderWriter(deps: OrderWriterDeps): OrderWriter {
  const partitions = Math.max(1, deps.partitions ?? 1);
  const { afterCommit, logger } = deps;
  const settle = afterCommit && coalescing((ids) => afterCommit(ids).catch((error: unknown) => logger.warn(briefly(error), 'afterCommit failed')));
  const lanes = Array.from({ length: partitions }, () => createLane({ ...deps, afterCommit: settle }));
  return {
    place: (req) => lanes[partitionOf(req.lines.map((l) => l.productId), partitions)]!.place(req),
    async close() {
      await Promise.all(lanes.map((lane) => lane.close()));
    },
    queued: () => lanes.reduce((sum, lane) => sum + lane.queued(), 0),
  };
}

/** One writer: its queue, at most one batch in flight. */
function createLane(deps: OrderWriterDeps): OrderWriter {
  const { primary, logger } = deps;
  const queue: Queued[] = [];
  let running: Promise<void> | null = null;
  let scheduled = false;
  let closed = false;
  let sweeper: NodeJS.Timeout | null = null;
  /** Committed batches whose requests wait for `afterCommit`. */
  const settlings = new Set<Promise<void>>();

  /** One transaction in two round trips: lock, decide, write, take. Throws to roll everything back. */
  const attempt = (entries: Entry[], retry: boolean) =>
    inTwoTrips(primary, async (trips) => {
      const batchToken = randomUUID();
      const keyed = entries.flatMap((e) => (e.req.idempotency ? [{ customerId: e.req.customerId, ...e.req.idempotency }] : []));
      const [first] = await trips.first<{ begun: Begun }>(
        repo.batchBegin({
          productIds: entries.flatMap((e) => e.req.lines.map((l) => l.productId)),
          keys: batchKeys(keyed),
          batchToken,
          leaseSeconds: LEASE_SECONDS,
          check: entries.filter((e) => retry || e.assigned).map((e) => e.id),
        }),
      );
      const begun = first!.begun;
      const products = deps.stock.lockedFromJson(begun.products);
      const plan = decideBatch(entries, {
        products,
        normalize: deps.stock.normalizeLines,
        keys: lockedKeysFromJson(begun.keys),
        existing: repo.ordersFromJson(begun.orders, begun.lines),
        batchToken,
        now: new Date(),
      });
      if (plan.take.length > 0) await deps.stock.beforeTake(trips.tx, products, plan.take);
      const [last] = await trips.last<{ taken: Taken }>(repo.batchFinish({ ...plan, retentionSeconds: deps.retentionSeconds }, deps.stock.takeLines(plan.take)));
      const byId = new Map(deps.stock.takenFromJson(last!.taken).map((m) => [m.productId, m]));
      for (const outcome of plan.outcomes) {
        if (outcome.kind === 'written' && outcome.order.status === 'confirmed') {
          outcome.stock = outcome.order.lines.flatMap((l) => byId.get(l.productId) ?? []);
        }
      }
      return { outcomes: plan.outcomes, changed: [...byId.keys()] };
    });

  /**
   * The last attempt failed, but an earlier one may have committed with its reply lost (the retry
   * that would have found it failed too). One read on a fresh connection tells which orders exist:
   * those are reported written, the others 503 "nothing was ordered". When even that read fails
   * the outcome is unknown, and the 503 says so: a retry with the same Idempotency-Key answers it.
   */
  async function afterGivingUp(entries: Entry[], error: unknown): Promise<WriteOutcome[]> {
    let found: Map<string, Order>;
    try {
      found = await repo.findOrders(primary, entries.map((e) => e.id));
    } catch {
      const detail = 'Orders cannot be written right now, and whether this one was cannot be known yet; ask again with the same Idempotency-Key, or look in your order history';
      return entries.map(() => unavailable(detail, error));
    }
    return entries.map((e) => {
      const order = found.get(e.id);
      if (!order) return unavailable('Orders cannot be written right now; nothing was ordered, try again', error);
      return e.assigned ? { kind: 'existing', order, body: presentOrder(order) } : { kind: 'written', order, body: presentOrder(order), stock: [] };
    });
  }

  /** Attempts with retries; on a non-transient error, halves the batch so one bad request fails alone. */
  async function writeBatch(entries: Entry[]): Promise<{ outcomes: WriteOutcome[]; changed: string[] }> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(entries, n > 1);
      } catch (error) {
        // A deadline that ran out is not tried again: the request already waited its bound.
        if (isTransient(error) && n < ATTEMPTS && !ranOutOfTime(error)) {
          logger.warn({ ...briefly(error), orders: entries.length, attempt: n }, 'order batch failed; retrying it');
          await new Promise((r) => setTimeout(r, 20 * n * n));
          continue;
        }
        if (isTransient(error)) {
          logger.warn({ ...briefly(error), orders: entries.length }, 'order batch failed after retries; its requests get 503');
          return { outcomes: await afterGivingUp(entries, error), changed: [] };
        }
        if (entries.length === 1) {
          logger.error({ err: error }, 'order could not be written');
          return { outcomes: [{ kind: 'refused', error: error instanceof AppError ? error : new AppError('internal_error', 'The order could not be written') }], changed: [] };
        }
        const half = Math.ceil(entries.length / 2);
        const [a, b] = [await writeBatch(entries.slice(0, half)), await writeBatch(entries.slice(half))];
        return { outcomes: [...a.outcomes, ...b.outcomes], changed: [...new Set([...a.changed, ...b.changed])] };
      }
    }
  }

  /**
   * Writes a batch; the writer is free for the next one as soon as it committed. Its requests
   * resolve after `afterCommit` (the catalog version: the very next read after a 201 shows the new
   * quantity), which runs meanwhile, off the writer's path.
   */
  async function run(batch: Queued[]) {
    const started = performance.now();
    const { outcomes, changed } = await writeBatch(batch);
    logger.debug({ orders: batch.length, ms: Math.round(performance.now() - started) }, 'order batch written');
    const answer = () => batch.forEach((q, i) => q.resolve(outcomes[i]!));
    if (changed.length === 0 || !deps.afterCommit) return answer();
    const settling: Promise<void> = deps.afterCommit(changed).then(answer, answer).finally(() => settlings.delete(settling));
    settlings.add(settling);
  }

  /** Answers 503 to every request queued longer than the deadline. */
  function sweep() {
    const limit = Date.now() - deps.queueTimeoutMs;
    for (let i = queue.length - 1; i >= 0; i--) {
      if (queue[i]!.enqueuedAt <= limit) queue.splice(i, 1)[0]!.resolve(unavailable('Too many orders are waiting to be written; try again shortly'));
    }
    if (queue.length === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = null;
    }
  }

  function next() {
    scheduled = false;
    if (running || queue.length === 0) return;
    sweep();
    const batch = queue.splice(0, deps.maxBatch);
    if (batch.length === 0) return;
    running = run(batch).finally(() => {
      running = null;
      next();
    });
  }

  return {
    place(req) {
      if (closed) return Promise.resolve(unavailable('The server is shutting down; try again'));
      return new Promise<WriteOutcome>((resolve) => {
        queue.push({ id: req.orderId ?? newId(), assigned: req.orderId !== undefined, req, enqueuedAt: Date.now(), resolve });
        if (!sweeper) {
          sweeper = setInterval(sweep, Math.max(10, Math.min(250, deps.queueTimeoutMs / 4)));
          sweeper.unref();
        }
        // Requests parsed in this turn of the event loop join the batch: no timer, no delay.
        if (!running && !scheduled) {
          scheduled = true;
          setImmediate(next);
        }
      });
    },
    async close() {
      closed = true;
      while (running || queue.length > 0) {
        if (!running) next();
        await running;
      }
      await Promise.all(settlings);
      if (sweeper) clearInterval(sweeper);
    },
    queued: () => queue.length,
  };
}
