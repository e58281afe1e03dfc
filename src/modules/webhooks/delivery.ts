/**
 * The delivery loop (the worker runs it; with the embedded defaults, the API process). An event's
 * first attempt to each subscription comes from that subscription's cursor over the events: a
 * worker leases the cursor with the next batch of events past it, sends them, and records the
 * attempts and the cursor's new place in one statement — one row written per attempt. Retries and
 * manual redeliveries are pending rows, claimed with FOR UPDATE SKIP LOCKED. Either way any number
 * of workers share the work, on PostgreSQL and PGlite alike. Each delivery is sent under a
 * timeout, at most `concurrency` at once per subscription: a slow or dead receiver holds its own
 * slots and nothing else. Orders never wait for any of it: they only wrote an outbox row.
 *
 * Cheap per delivery: a lease round serves several subscriptions' batches, successes of retries
 * are recorded together in one statement, each event's body is built once per round from the
 * stored JSON, and each secret has one signer.
 *
 * At least once: a worker killed mid-send leaves its cursor leases and its retry rows `sending`
 * until their lease runs out; then any worker sends them again, with the same event id.
 */
import type { Logger } from 'pino';
import type { Database } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import * as repo from './repo.ts';
import type { createSender } from './send.ts';

export interface DeliverySettings {
  retryScheduleSeconds: readonly number[];
  disableAfterSeconds: number;
  disableAfterFailures: number;
  timeoutMs: number;
  concurrency: number;
}

const MAX_IN_FLIGHT = 64;
/** Subscriptions a worker sends cursor batches to at once (each at most `concurrency` requests in flight). */
const MAX_CURSORS = 8;
/** A cursor batch holds this many times `concurrency` events: a fast receiver gets them in fewer rounds. */
const BATCH_ROUNDS = 4;
const IDLE_POLL_MS = 250;
/**
 * Answers from a fast receiver come back one after another, not together: recording each as it
 * lands and claiming for each freed slot would cost two statements per delivery. Successes wait
 * this long to be recorded together, and a freed slot this long before the next claim, so one
 * statement serves all that came in meanwhile (measured: bench:webhooks, docs/benchmarks.md).
 */
const GATHER_MS = 5;

/** The wait before attempt `attempt + 1`, with ±20 % jitter so retries of many events spread out; null after the last. */
export function retryDelaySeconds(schedule: readonly number[], attempt: number): number | null {
  const base = schedule[attempt - 1];
  if (base === undefined) return null;
  return base * (0.8 + Math.random() * 0.4);
}

/**
 * The body every attempt of an event sends: `{type, timestamp, data}`, `data` being the stored
 * JSON text as it is (not parsed and serialized again for each delivery).
 */
export const eventBody = (d: Pick<repo.ClaimedDelivery, 'type' | 'occurredAt' | 'payloadJson'>) =>
  `{"type":${JSON.stringify(d.type)},"timestamp":${JSON.stringify(d.occurredAt.toISOString())},"data":${d.payloadJson}}`;

export function createDeliveryLoop(deps: { db: Database; logger: Logger; sender: ReturnType<typeof createSender>; settings: DeliverySettings }) {
  const { db, logger, sender, settings } = deps;
  const leaseMs = settings.timeoutMs + 15_000;
  const inFlight = new Set<Promise<void>>();
  let stopped = true;
  // Set by signal() (a slot freed, or new deliveries recorded); the pause after a claim does not
  // wait when it was set during the claim.
  let woken = false;
  let endPause: (() => void) | undefined;
  const signal = () => {
    woken = true;
    endPause?.();
  };
  let loop: Promise<void> | undefined;

  // Successes are recorded together: each one waits (its sending slot still held) for the next
  // flush, at most GATHER_MS after the first of them, one statement for all of them. A delivery's promise settles only once its record is written.
  let succeeded: Array<{ d: repo.ClaimedDelivery; result: repo.AttemptResult; recorded: (ok: boolean) => void; failed: (error: unknown) => void }> = [];
  let flushing = false;
  function scheduleFlush() {
    if (flushing) return;
    flushing = true;
    setTimeout(() => void flush(), GATHER_MS);
  }
  async function flush() {
    while (succeeded.length > 0) {
      const batch = succeeded;
      succeeded = [];
      try {
        const recorded = await repo.finishSucceeded(db.primary, batch);
        for (const s of batch) s.recorded(recorded.has(s.d.id));
      } catch (error) {
        for (const s of batch) s.failed(error);
      }
    }
    flushing = false;
  }
  const recordSuccess = (d: repo.ClaimedDelivery, result: repo.AttemptResult) =>
    new Promise<boolean>((recorded, failed) => {
      succeeded.push({ d, result, recorded, failed });
      scheduleFlush();
    });

  // One body per event and claim: the subscriptions that want an event are claimed together.
  async function deliver(d: repo.ClaimedDelivery, body: string) {
    const result = await sender.send({ url: d.url, eventId: d.eventId, body, secrets: d.secrets });
    const retry = result.ok ? null : retryDelaySeconds(settings.retryScheduleSeconds, d.attempt);
    const disable = { afterSeconds: settings.disableAfterSeconds, afterFailures: settings.disableAfterFailures };
    const recorded = result.ok
      ? await recordSuccess(d, result)
      : await db.primary.transaction((tx) => repo.finishFailed(tx, d, result, { id: newId(), retryInSeconds: retry }, disable));
    if (!recorded || !result.ok || logger.isLevelEnabled('debug')) {
      const log = { delivery_id: d.id, event_id: d.eventId, subscription_id: d.subscriptionId, attempt: d.attempt, status: result.responseStatus, duration_ms: result.durationMs };
      if (!recorded) logger.warn(log, 'webhook delivery finished after its lease ran out; another worker had taken it');
      else if (result.ok) logger.debug(log, 'webhook delivered');
      else logger.info({ ...log, error: result.error, retry_in_seconds: retry }, 'webhook delivery failed');
    }
  }

  // A cursor batch: its events sent `concurrency` at a time, then every attempt and the cursor's
  // new place recorded in one statement. The lease covers the batch's rounds of timeouts.
  const batchSize = settings.concurrency * BATCH_ROUNDS;
  const cursorLeaseMs = BATCH_ROUNDS * settings.timeoutMs + 15_000;
  const cursorTasks = new Set<Promise<void>>();
  async function sendBatch(b: repo.CursorBatch, bodyOf: (d: repo.CursorBatch['deliveries'][number]) => string) {
    const outcomes: Array<{ eventId: string; result: repo.AttemptResult }> = [];
    let next = 0;
    const lane = async () => {
      for (let d = b.deliveries[next++]; d !== undefined; d = b.deliveries[next++]) {
        outcomes.push({ eventId: d.eventId, result: await sender.send({ url: b.url, eventId: d.eventId, body: bodyOf(d), secrets: b.secrets }) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(settings.concurrency, b.deliveries.length) }, lane));
    const attempts = outcomes.map(({ eventId, result }) => {
      const retry = result.ok ? null : retryDelaySeconds(settings.retryScheduleSeconds, 1);
      return { id: newId(), eventId, result, retry: retry === null ? null : { id: newId(), inSeconds: retry } };
    });
    await repo.recordCursorBatch(db.primary, b, attempts, { afterSeconds: settings.disableAfterSeconds, afterFailures: settings.disableAfterFailures });
    for (const a of attempts) {
      const log = { delivery_id: a.id, event_id: a.eventId, subscription_id: b.subscriptionId, attempt: 1, status: a.result.responseStatus, duration_ms: a.result.durationMs };
      if (!a.result.ok) logger.info({ ...log, error: a.result.error, retry_in_seconds: a.retry?.inSeconds ?? null }, 'webhook delivery failed');
      else if (logger.isLevelEnabled('debug')) logger.debug(log, 'webhook delivered');
    }
  }

  // The retries' claim runs at most every IDLE_POLL_MS unless the last one filled its slots: a busy
  // loop claims again each time a batch ends, and the retries' claim mostly finds nothing
  // (pg_stat_statements on bench:webhooks: a tenth of the deliveries' PostgreSQL time). A retry
  // or a redelivery waits at most that much longer; a claim by hand (runOnce) always looks.
  let retriesClaimedAt = 0;
  let retriesMayWait = true;

  /** Claims what fits in the free slots and starts sending it; returns how many deliveries and batches it took, and whether more may wait. */
  async function claim(force = false): Promise<{ claimed: number; again: boolean }> {
    const retriesDue = force || retriesMayWait || performance.now() - retriesClaimedAt >= IDLE_POLL_MS;
    const free = retriesDue ? MAX_IN_FLIGHT - inFlight.size : 0;
    const freeCursors = MAX_CURSORS - cursorTasks.size;
    if (free > 0) retriesClaimedAt = performance.now();
    // Settled apart: what one statement took is sent even when the other failed (a lease not
    // acted on would wait out its length).
    const [retries, leases] = await Promise.allSettled([
      free > 0 ? repo.claimDue(db.primary, free, settings.concurrency, leaseMs) : [],
      freeCursors > 0 ? repo.leaseCursors(db.primary, freeCursors, batchSize, cursorLeaseMs) : [],
    ]);
    const claimed = retries.status === 'fulfilled' ? retries.value : [];
    if (free > 0) retriesMayWait = retries.status === 'rejected' || claimed.length === free;
    const batches = leases.status === 'fulfilled' ? leases.value : [];
    const bodies = new Map<string, string>();
    const bodyOf = (d: Pick<repo.ClaimedDelivery, 'eventId' | 'type' | 'occurredAt' | 'payloadJson'>) => {
      let body = bodies.get(d.eventId);
      if (body === undefined) bodies.set(d.eventId, (body = eventBody(d)));
      return body;
    };
    for (const d of claimed) {
      const sending: Promise<void> = deliver(d, bodyOf(d))
        .catch((error) => logger.error({ err: error, delivery_id: d.id }, 'webhook delivery could not be recorded; it is sent again after its lease'))
        .finally(() => {
          inFlight.delete(sending);
          signal();
        });
      inFlight.add(sending);
    }
    for (const b of batches) {
      const task: Promise<void> = sendBatch(b, bodyOf)
        .catch((error) => logger.error({ err: error, subscription_id: b.subscriptionId }, 'webhook batch could not be recorded; it is sent again after its lease'))
        .finally(() => {
          cursorTasks.delete(task);
          signal();
        });
      cursorTasks.add(task);
    }
    const failed = [retries, leases].find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    // Claiming again at once only pays when a kind of work filled every free slot (more may be
    // waiting); otherwise the rest waits for a slot to free, new events, or the idle poll.
    const again = (free > 0 && claimed.length === free) || (freeCursors > 0 && batches.length === freeCursors);
    return { claimed: claimed.length + batches.length, again };
  }
  const runOnce = async () => (await claim(true)).claimed;

  const pause = async (ms: number) => {
    if (!woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        endPause = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      endPause = undefined;
    }
    // Let the answers and records that come in meanwhile land first, so one claim serves them all.
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
  };

  return {
    runOnce,
    /** New deliveries were just recorded (the relay in this process): end the idle pause now. */
    wake: signal,
    start() {
      if (!stopped) return;
      stopped = false;
      loop = (async () => {
        while (!stopped) {
          woken = false;
          let again = false;
          try {
            again = (await claim()).again;
          } catch (error) {
            logger.warn({ err: error }, 'claiming webhook deliveries failed; trying again');
          }
          if (!stopped && !again) await pause(IDLE_POLL_MS);
        }
      })();
    },
    /** Stops claiming and waits for the attempts in flight (each bounded by the timeout). */
    async stop() {
      stopped = true;
      signal();
      await loop;
      await Promise.allSettled([...inFlight, ...cursorTasks]);
    },
  };
}
