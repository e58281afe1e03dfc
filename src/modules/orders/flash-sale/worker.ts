/**
 * Flash-sale fulfillment: reads accepted orders from the stream with a consumer group and writes
 * them through the batching writer (the same one sync mode uses; its conditional stock update
 * stays the final word), then settles them through inventory (SETTLE: acknowledged, units out
 * of the accepted count, mirror moved to the committed stock) — after the commit, never before.
 *
 * Exactly once across crashes: the order id is fixed at admission, so an entry read again (this
 * process crashed after the commit, or another consumer's pending entries claimed with XAUTOCLAIM
 * once idle for ORDERS_ASYNC_CLAIM_IDLE_MS) is found already written and only settled.
 * While PostgreSQL is down the writer answers `unavailable`: those entries wait and are tried
 * again, nothing is dropped. An order the database refuses (short, or a product archived since)
 * is written `cancelled` with `cancel_reason: out_of_stock`, and its units go back to the mirror.
 * One refused non-transiently on every delivery, or unparseable, is settled by poison.ts.
 */
import { hostname } from 'node:os';
import type { RedisClient } from '../../../platform/kv.ts';
import type { Logger } from 'pino';
import type { Db } from '../../../platform/db.ts';
import { briefly } from '../../../platform/dependencies.ts';
import { newId } from '../../../platform/ids.ts';
import type { AppError } from '../../../platform/errors.ts';
import type { InventoryService } from '../../inventory/service.ts';
import type { WriteOutcome, WriteRequest } from '../batch-writer.ts';
import { asyncMetrics } from './metrics.ts';
import { createPoisonHandling, parseEntry, type Read } from './poison.ts';
import { GROUP, pendingOfKey, recordKey, STREAM } from './stream.ts';

export interface AsyncWorkerDeps {
  redis: RedisClient;
  primary: Db;
  /** Settles written entries (acknowledge, units out of the accepted count, mirrors forward). */
  inventory: { accepted?: Pick<NonNullable<InventoryService['accepted']>, 'settle'> | undefined };
  logger: Logger;
  write: (req: WriteRequest) => Promise<WriteOutcome>;
  claimIdleMs: number;
  /** A non-transient refusal on this delivery or a later one settles the entry (poison.ts); default 5. */
  maxDeliveries?: number;
  /** Entries read per round (the writer batches them). */
  batch?: number;
}

/** `stock`: what the write left products at (others are read); `leaveMirror`: read none. */
type Settled = { read: Read; stock: Extract<WriteOutcome, { kind: 'written' }>['stock']; leaveMirror?: boolean };
type StreamEntries = Array<[string, string[]]>;

const BLOCK_MS = 250;

export function createAsyncWorker(deps: AsyncWorkerDeps) {
  const { redis, logger } = deps;
  const consumer = `${hostname()}-${process.pid}-${newId().slice(-8)}`;
  const count = deps.batch ?? 500;
  const accepted = deps.inventory.accepted;
  if (!accepted) throw new Error('flash-sale worker: inventory has no Redis mirror');
  let stopping = false;
  let loop: Promise<void> | null = null;

  async function ensureGroup() {
    try {
      await redis.xgroup('CREATE', STREAM, GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  const poison = createPoisonHandling({
    redis,
    logger,
    primary: deps.primary,
    maxDeliveries: deps.maxDeliveries ?? 5,
    release: (read, written) => settleUntilDone([{ read, stock: [], leaveMirror: !written }]),
  });

  /** The orders of `entries`; an unparseable entry goes to the dead-letter stream. */
  async function parse(entries: StreamEntries): Promise<Read[]> {
    const reads: Read[] = [];
    for (const [entryId, fields] of entries) {
      const order = parseEntry(fields ?? []);
      if (order) reads.push({ entryId, order });
      else await poison.malformed(entryId, fields ?? []);
    }
    return reads;
  }

  /** A dead consumer's (or our own earlier) entries idle longer than claimIdleMs, then new ones. */
  async function next(): Promise<Read[]> {
    const claimed = (await redis.call('XAUTOCLAIM', STREAM, GROUP, consumer, deps.claimIdleMs, '0-0', 'COUNT', count)) as [string, StreamEntries];
    if (claimed[1].length > 0) return await parse(claimed[1]);
    const fresh = (await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', BLOCK_MS, 'STREAMS', STREAM, '>')) as Array<[string, StreamEntries]> | null;
    return fresh ? await parse(fresh[0]![1]) : [];
  }

  const request = ({ order }: Read): WriteRequest => ({
    orderId: order.id,
    customerId: order.customer,
    lines: order.lines.map((l) => ({ productId: l.product, quantity: l.quantity })),
    onShort: 'record_cancelled',
    accepted: { at: new Date(order.at), lines: order.lines.map((l) => ({ productId: l.product, name: l.name, unitPriceCents: l.price_cents })) },
  });

  /** One step in Redis for the entries the database now has (inventory's settle). */
  async function settle(done: Settled[]) {
    await accepted!.settle(
      STREAM,
      GROUP,
      done.map(({ read, stock, leaveMirror }) => ({
        entryId: read.entryId,
        orderId: read.order.id,
        lines: read.order.lines.map((l) => ({ productId: l.product, quantity: l.quantity })),
        record: recordKey(read.order.id),
        pendingOf: pendingOfKey(read.order.customer),
        committed: stock,
        leaveMirror,
      })),
    );
    const now = Date.now();
    for (const { read } of done) asyncMetrics.confirmSeconds.observe((now - read.order.at) / 1000);
  }

  /**
   * Writes `reads` until each is in the database (waiting out an outage: a transient refusal is
   * retried in this delivery), then settles them; a non-transient refusal goes to poison.ts.
   */
  async function handle(reads: Read[]) {
    let todo = reads;
    for (let round = 1; todo.length > 0 && !stopping; round++) {
      const outcomes = await Promise.all(todo.map((read) => deps.write(request(read))));
      const done: Settled[] = [];
      const again: Read[] = [];
      const failed: Array<{ read: Read; error: AppError }> = [];
      todo.forEach((read, i) => {
        const o = outcomes[i]!;
        if (o.kind === 'written' || o.kind === 'existing') done.push({ read, stock: o.kind === 'written' ? o.stock : [] });
        else if (o.kind === 'refused' && o.error.code === 'unavailable') again.push(read);
        else failed.push({ read, error: o.kind === 'refused' ? o.error : unexpected(o.kind) });
      });
      if (done.length > 0) await settleUntilDone(done);
      if (failed.length > 0) await poison.refused(failed);
      if (again.length > 0) {
        const first = outcomes.find((o) => o.kind === 'refused');
        logger.warn({ orders: again.length, round, error: first?.kind === 'refused' ? first.error.message : undefined }, 'accepted orders not written yet; retrying');
        await sleep(Math.min(5000, 250 * round));
      }
      todo = again;
    }
  }

  /** Redis unreachable after the commit: keep trying; a crash here only means the entries are read again. */
  async function settleUntilDone(done: Settled[]) {
    for (let round = 1; ; round++) {
      try {
        return await settle(done);
      } catch (error) {
        if (stopping) throw error;
        logger.warn({ ...briefly(error), round }, 'could not settle written orders in Redis; retrying');
        await sleep(Math.min(5000, 250 * round));
      }
    }
  }

  /** One round: read what is there (waiting up to BLOCK_MS), write it, settle it. Returns how many. */
  async function runOnce(): Promise<number> {
    const reads = await next();
    if (reads.length > 0) await handle(reads);
    return reads.length;
  }

  async function run() {
    for (let round = 1; !stopping; ) {
      try {
        await ensureGroup();
        while (!stopping) {
          await runOnce();
          round = 1;
        }
      } catch (error) {
        if (stopping) break;
        logger.warn({ ...briefly(error), round }, 'order stream consumer failed; retrying');
        await sleep(Math.min(5000, 250 * round++));
      }
    }
  }

  return {
    consumer,
    ensureGroup,
    runOnce,
    start() {
      stopping = false;
      loop ??= run().finally(() => (loop = null));
      logger.info({ consumer }, 'accepted-order consumer started');
    },
    /** Finishes the round in progress (its entries stay pending if unwritten), then returns. */
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

const unexpected = (kind: string) => new Error(`unexpected write outcome ${kind}`) as AppError;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type AsyncWorker = ReturnType<typeof createAsyncWorker>;
