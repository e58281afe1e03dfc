/**
 * The delivery loop (the worker runs it; with the embedded defaults, the API process). Pending
 * deliveries are rows claimed with FOR UPDATE SKIP LOCKED, so any number of workers share them, on
 * PostgreSQL and PGlite alike. Each claimed delivery is sent on its own (never one after another),
 * under a timeout, at most `concurrency` at once per subscription: a slow or dead receiver holds
 * its own slots and nothing else. Orders never wait for any of it: they only wrote an outbox row.
 *
 * At least once: a worker killed mid-send leaves its rows `sending` until their lease (the timeout
 * plus a margin) runs out; then any worker sends them again, with the same event id.
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
const IDLE_POLL_MS = 250;

/** The wait before attempt `attempt + 1`, with ±20 % jitter so retries of many events spread out; null after the last. */
export function retryDelaySeconds(schedule: readonly number[], attempt: number): number | null {
  const base = schedule[attempt - 1];
  if (base === undefined) return null;
  return base * (0.8 + Math.random() * 0.4);
}

/** The body every attempt of an event sends: `{type, timestamp, data}`. */
export const eventBody = (d: Pick<repo.ClaimedDelivery, 'type' | 'occurredAt' | 'payload'>) =>
  JSON.stringify({ type: d.type, timestamp: d.occurredAt.toISOString(), data: d.payload });

export function createDeliveryLoop(deps: { db: Database; logger: Logger; sender: ReturnType<typeof createSender>; settings: DeliverySettings }) {
  const { db, logger, sender, settings } = deps;
  const leaseMs = settings.timeoutMs + 15_000;
  const inFlight = new Set<Promise<void>>();
  let stopped = true;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  async function deliver(d: repo.ClaimedDelivery) {
    const result = await sender.send({ url: d.url, eventId: d.eventId, body: eventBody(d), secrets: d.secrets });
    const retry = result.ok ? null : retryDelaySeconds(settings.retryScheduleSeconds, d.attempt);
    const disable = { afterSeconds: settings.disableAfterSeconds, afterFailures: settings.disableAfterFailures };
    const recorded = result.ok
      ? await repo.finishSucceeded(db.primary, d, result)
      : await db.primary.transaction((tx) => repo.finishFailed(tx, d, result, { id: newId(), retryInSeconds: retry }, disable));
    const log = { delivery_id: d.id, event_id: d.eventId, subscription_id: d.subscriptionId, attempt: d.attempt, status: result.responseStatus, duration_ms: result.durationMs };
    if (!recorded) logger.warn(log, 'webhook delivery finished after its lease ran out; another worker had taken it');
    else if (result.ok) logger.debug(log, 'webhook delivered');
    else logger.info({ ...log, error: result.error, retry_in_seconds: retry }, 'webhook delivery failed');
  }

  /** Claims what fits in the free slots and starts sending it; returns how many were claimed. */
  async function runOnce(): Promise<number> {
    const free = MAX_IN_FLIGHT - inFlight.size;
    if (free <= 0) return 0;
    const claimed = await repo.claimDue(db.primary, free, settings.concurrency, leaseMs);
    for (const d of claimed) {
      const sending: Promise<void> = deliver(d)
        .catch((error) => logger.error({ err: error, delivery_id: d.id }, 'webhook delivery could not be recorded; it is sent again after its lease'))
        .finally(() => {
          inFlight.delete(sending);
          wake?.();
        });
      inFlight.add(sending);
    }
    return claimed.length;
  }

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  return {
    runOnce,
    /** New deliveries were just recorded (the relay in this process): end the idle pause now. */
    wake: () => wake?.(),
    start() {
      if (!stopped) return;
      stopped = false;
      loop = (async () => {
        while (!stopped) {
          let claimed = 0;
          try {
            claimed = await runOnce();
          } catch (error) {
            logger.warn({ err: error }, 'claiming webhook deliveries failed; trying again');
          }
          if (!stopped && claimed === 0) await pause(IDLE_POLL_MS);
        }
      })();
    },
    /** Stops claiming and waits for the attempts in flight (each bounded by the timeout). */
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}
