/**
 * Log lines for work retried on a timer while what it needs is down (a flush every 200 ms while
 * PostgreSQL is unreachable): the first failure warns at once, later ones at most once per
 * `everyMs` with how many attempts failed since the last line, and the first success after a
 * failure says once that it is back, with how long it was down and how many attempts failed.
 * Without it, a timer-driven retry writes a warning per tick: five a second over an outage.
 */
import type { Logger } from 'pino';

export interface OutageLog {
  /** An attempt failed; `fields` go on the warning when one is written. */
  failed(error: unknown, fields?: Record<string, unknown>): void;
  /** An attempt succeeded: after a failure, one info line. */
  succeeded(fields?: Record<string, unknown>): void;
}

export function createOutageLog(
  logger: Logger,
  messages: { failing: string; recovered: string },
  options: { everyMs?: number; now?: () => number } = {},
): OutageLog {
  const everyMs = options.everyMs ?? 30_000;
  const now = options.now ?? Date.now;
  let downSince: number | undefined;
  let lastWarning = 0;
  let failures = 0;
  let unreported = 0;
  return {
    failed(error, fields = {}) {
      const at = now();
      failures++;
      unreported++;
      if (downSince === undefined) downSince = at;
      else if (at - lastWarning < everyMs) return;
      lastWarning = at;
      logger.warn({ err: error, ...fields, failed_attempts: unreported, down_ms: at - downSince }, messages.failing);
      unreported = 0;
    },
    succeeded(fields = {}) {
      if (downSince === undefined) return;
      logger.info({ ...fields, failed_attempts: failures, down_ms: now() - downSince }, messages.recovered);
      downSince = undefined;
      failures = 0;
      unreported = 0;
    },
  };
}
