/**
 * Flash-sale mode's "received" mails: a customer whose order was accepted (202) hears so before the
 * worker writes it. Admission never touches PostgreSQL (that is the mode's point), so the mails are
 * queued after the answer, off its path: accepted orders are collected in this process and handed,
 * a batch at a time, in one primary transaction to `queue` (identity's mail outbox, which then
 * delivers them like every other mail).
 *
 * Best effort by design, unlike every other order mail: the buffer is bounded (a database down for
 * long, or a process that dies, loses the waiting ones, with a warning), because holding accepted
 * orders back for a courtesy mail would undo what the mode is for. The confirmed (or cancelled)
 * mail that follows is written with the order's own outbox record and is never lost.
 *
 * Never after that mail (issue 25): a flush late behind the worker and the relay (a backlog, a
 * database that was down, or simply the relay's tick coming first) drops the received mails of
 * orders whose confirmed or cancelled mail the relay has queued already. It reads that under an
 * advisory lock the relay takes too (repo.ts), so a relay either comes after this flush has
 * committed — and the mail outbox, which sends an account's mails in the order they were queued,
 * sends "received" first — or has committed before this flush reads, which then drops the mail.
 */
import type { Logger } from 'pino';
import type { Db } from '../../../platform/db.ts';
import { createOutageLog } from '../../../platform/outage-log.ts';
import * as repo from '../repo.ts';
import type { OrderJson } from '../schemas.ts';

export type QueueReceivedMails = (tx: Db, orders: OrderJson[]) => Promise<void>;

const FLUSH_EVERY_MS = 200;
const MAX_BATCH = 500;
const MAX_WAITING = 20_000;

export function createReceivedMails(deps: { primary: Db; logger: Logger; queue: QueueReceivedMails }) {
  const { primary, logger, queue } = deps;
  let waiting: OrderJson[] = [];
  let dropped = 0;
  let flushing: Promise<void> | undefined;
  // Retried every tick while the primary is down: one warning at first, then one per 30 s.
  const outage = createOutageLog(logger, { failing: 'received mails not queued yet; retrying', recovered: 'received mails queued again' });

  async function flushOnce(): Promise<void> {
    while (waiting.length > 0) {
      const batch = waiting.slice(0, MAX_BATCH);
      await primary.transaction(async (tx) => {
        await repo.lockForReceivedMails(tx);
        const relayed = await repo.relayedOrderIds(tx, batch.map((o) => o.id));
        const news = relayed.size === 0 ? batch : batch.filter((o) => !relayed.has(o.id));
        if (news.length > 0) await queue(tx, news);
      });
      waiting = waiting.slice(batch.length);
      outage.succeeded({ waiting: waiting.length });
    }
  }

  /** Queues what is waiting; a failure leaves it for the next tick. Never throws. */
  function flush(): Promise<void> {
    flushing ??= flushOnce()
      .catch((error: unknown) => outage.failed(error, { waiting: waiting.length }))
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  }

  const timer = setInterval(() => void flush(), FLUSH_EVERY_MS);
  timer.unref();

  return {
    /** An accepted order (called after its 202 is decided; returns at once). */
    add(order: OrderJson): void {
      if (waiting.length >= MAX_WAITING) {
        if (dropped++ % 1000 === 0) logger.warn({ dropped }, 'received mails dropped: too many waiting (the confirmed mail still follows)');
        return;
      }
      waiting.push(order);
    },
    /** Stops the timer and queues what is waiting (before the pools close). */
    async close(): Promise<void> {
      clearInterval(timer);
      await flushing;
      await flush();
    },
  };
}
