/**
 * Poison entries of the accepted-order stream: ones the batch writer refuses with a non-transient
 * error on every delivery (a field the database cannot store, a malformed line), or that cannot
 * even be parsed. Without this an entry like that would be retried forever.
 *
 *  - Cannot be parsed: moved to the dead-letter stream `orders:dead-letter` and acknowledged at
 *    once (its units cannot be known; the reconciler recomputes the accepted counts from the
 *    stream).
 *  - Parsed, refused non-transiently: left pending, so it is claimed again (XAUTOCLAIM, after
 *    ORDERS_ASYNC_CLAIM_IDLE_MS) and its XPENDING delivery count grows; once a refusal comes on
 *    delivery ORDERS_ASYNC_MAX_DELIVERIES or later, it is written `cancelled` with
 *    `cancel_reason: unprocessable` and an `order.cancelled` event (without its lines when the
 *    lines are what the database refuses), its units given back to the mirror. If even that cannot
 *    be written, it goes to the dead-letter stream (units given back too).
 * A transient refusal (the database down or saturated: `unavailable`) is retried within the same
 * delivery (worker.ts) and never adds to the count; only a non-transient refusal ends an entry.
 */
import type { Logger } from 'pino';
import type { Db } from '../../../platform/db.ts';
import type { AppError } from '../../../platform/errors.ts';
import type { RedisClient } from '../../../platform/kv.ts';
import { GROUP, STREAM, type AcceptedEntry } from './stream.ts';
import { asyncMetrics } from './metrics.ts';
import { isTransient } from '../batch-writer.ts';
import * as repo from '../repo.ts';
import type { Order } from '../tables.ts';

export const DEAD_LETTER = 'orders:dead-letter';

export interface Read {
  entryId: string;
  order: AcceptedEntry;
}

const isLine = (l: unknown) => {
  const line = l as Record<string, unknown> | null;
  return (
    typeof line?.product === 'string' &&
    typeof line.name === 'string' &&
    Number.isSafeInteger(line.quantity) &&
    (line.quantity as number) > 0 &&
    Number.isSafeInteger(line.price_cents)
  );
};

/** The entry's order, or undefined when it is not one (bad JSON, missing or mistyped fields). */
export function parseEntry(fields: string[]): AcceptedEntry | undefined {
  const at = fields.indexOf('order');
  if (at < 0 || at % 2 !== 0) return undefined;
  try {
    const o = JSON.parse(fields[at + 1] ?? '') as Partial<AcceptedEntry> | null;
    const ok = typeof o?.id === 'string' && typeof o.customer === 'string' && Number.isFinite(o.at) && Array.isArray(o.lines) && o.lines.length > 0 && o.lines.every(isLine);
    return ok ? (o as AcceptedEntry) : undefined;
  } catch {
    return undefined;
  }
}

export interface PoisonDeps {
  redis: RedisClient;
  primary: Db;
  logger: Logger;
  maxDeliveries: number;
  /**
   * Acknowledges the entry and takes its units out of the accepted counts; `written`: the order is
   * in the database (found written), so the mirror moves to the current stock too.
   */
  release: (read: Read, written: boolean) => Promise<void>;
}

export function createPoisonHandling(deps: PoisonDeps) {
  const { redis, logger } = deps;

  async function malformed(entryId: string, fields: string[]) {
    await redis.multi().xadd(DEAD_LETTER, '*', 'entry', entryId, 'reason', 'malformed', 'fields', JSON.stringify(fields)).xack(STREAM, GROUP, entryId).xdel(STREAM, entryId).exec();
    asyncMetrics.poisonTotal.inc({ outcome: 'dead_letter' });
    logger.warn({ entry: entryId }, 'malformed accepted-order entry moved to the dead-letter stream');
  }

  /** How many times the group has delivered the entry (XPENDING), counting this one. */
  async function deliveries(entryId: string): Promise<number> {
    const rows = (await redis.xpending(STREAM, GROUP, entryId, entryId, 1)) as Array<[string, string, number, number]>;
    return Number(rows[0]?.[3] ?? 1);
  }

  /** Writes the order `cancelled` (unprocessable): with its lines, else without them. */
  async function cancel({ order }: Read): Promise<'cancelled' | 'existing' | 'transient' | 'failed'> {
    const lines = order.lines.map((l) => ({ productId: l.product, name: l.name, unitPriceCents: l.price_cents, quantity: l.quantity, lineTotalCents: l.price_cents * l.quantity }));
    for (const variant of [lines, []]) {
      const cancelled: Order = {
        id: order.id,
        customerId: order.customer,
        status: 'cancelled',
        cancelReason: 'unprocessable',
        totalCents: variant.reduce((sum, l) => sum + l.lineTotalCents, 0),
        createdAt: new Date(order.at),
        lines: variant,
      };
      try {
        return await deps.primary.transaction(async (tx) => {
          if ((await repo.findOrders(tx, [order.id])).has(order.id)) return 'existing' as const;
          const outbox = [{ topic: 'order.cancelled' as const, payload: { order_id: order.id, customer_id: order.customer, reason: 'unprocessable' } }];
          await repo.writeBatch(tx, { orders: [cancelled], outbox, keysDone: [], dropKeys: [], retentionSeconds: 0 });
          return 'cancelled' as const;
        });
      } catch (error) {
        if (isTransient(error)) return 'transient';
      }
    }
    return 'failed';
  }

  /**
   * Entries the writer refused with a non-transient error on this delivery. Below the limit they
   * stay pending (claimed again later); at it, cancelled or dead-lettered, then released.
   */
  async function refused(failed: Array<{ read: Read; error: AppError }>) {
    for (const { read, error } of failed) {
      const n = await deliveries(read.entryId);
      const brief = { order: read.order.id, entry: read.entryId, deliveries: n, error: error.message };
      if (n < deps.maxDeliveries) {
        logger.info(brief, 'accepted order refused by the database; it is tried again on its next delivery');
        continue;
      }
      const outcome = await cancel(read);
      if (outcome === 'transient') continue;
      if (outcome === 'existing') {
        await deps.release(read, true);
        continue;
      }
      const settled = outcome === 'failed' ? 'dead_letter' : 'cancelled';
      if (settled === 'dead_letter') await redis.xadd(DEAD_LETTER, '*', 'entry', read.entryId, 'reason', error.message, 'order', JSON.stringify(read.order));
      await deps.release(read, false);
      asyncMetrics.poisonTotal.inc({ outcome: settled });
      logger.warn({ ...brief, outcome: settled }, 'accepted order refused on every delivery; settled');
    }
  }

  return { malformed, refused };
}
