/** The outbox relay and the purge of old keys and relayed records (background jobs). */
import type { Db } from '../../platform/db.ts';
import type { Platform } from '../../platform/platform.ts';
import { orderEventsOf, type OrderEventSink } from './events.ts';
import type { Idempotency } from './idempotency.ts';
import * as repo from './repo.ts';

const OUTBOX_BATCH = 100;
const OUTBOX_RETENTION_SECONDS = 7 * 24 * 60 * 60;

export function createOutboxJobs(deps: { platform: Platform; idempotency: Idempotency; eventSinks: OrderEventSink[]; receivedMails: boolean }) {
  const { db, logger } = deps.platform;

  /** The sinks that want order events now (asked in the relay's transaction). */
  async function wantingSinks(tx: Db): Promise<OrderEventSink[]> {
    const wants = await Promise.all(deps.eventSinks.map((sink) => sink.wants(tx)));
    return deps.eventSinks.filter((_, i) => wants[i]);
  }

  /**
   * Hands unpublished outbox records' events to the sinks (webhooks, customer mails) and marks
   * them, in one transaction: each sink gets each event exactly once. PostgreSQL alone: the
   * records were also appended to a Redis stream (`events:orders`) that nothing read and nothing
   * trimmed — every order's payload kept in Redis memory for good — and whose outage stopped
   * the mails and webhooks with it. When no sink wants order events, the records are only marked:
   * their events (a read of every order and its lines) would be built for nothing.
   */
  async function relayOutbox(): Promise<number> {
    let total = 0;
    for (let round = 0; round < 10; round++) {
      const published = await db.primary.transaction(async (tx) => {
        const rows = await repo.lockUnpublished(tx, OUTBOX_BATCH);
        if (rows.length === 0) return 0;
        // Flash-sale mode: a flush of "received" mails that read these orders as not yet written
        // commits first, so their confirmed or cancelled mails are queued after it (repo.ts).
        if (deps.receivedMails) await repo.shareLockForReceivedMails(tx);
        const sinks = await wantingSinks(tx);
        if (sinks.length > 0) {
          const events = await orderEventsOf(tx, rows);
          for (const sink of sinks) await sink.consume(tx, events);
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
    const keys = await deps.idempotency.purgeExpired();
    const outbox = await repo.purgePublishedOutbox(db.primary, OUTBOX_RETENTION_SECONDS);
    if (keys + outbox > 0) logger.info({ keys, outbox }, 'purged expired idempotency keys and old outbox records');
    return keys;
  }

  return { relayOutbox, purgeExpiredIdempotencyKeys };
}
