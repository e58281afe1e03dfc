/**
 * What the service depends on (the primary database, Redis) and what it says when one fails.
 *
 * A failure of a dependency is not a fault of the service: a request that needs it answers 503
 * `unavailable` with Retry-After, logged as one warn line without a stack. The operator gets one
 * line when a dependency goes down and one when it is back (`dependency_up{name}` follows it), and
 * a count of the requests refused meanwhile (`dependency_refusals_total{name}`), instead of a
 * stack per request.
 */
import type { Logger } from 'pino';
import { findPgError } from './errors.ts';
import { metrics } from './metrics.ts';

export type DependencyName = 'database' | 'redis';

/** Errors of the socket itself, wherever in the cause chain the driver put them. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** node-postgres' and pg-pool's own messages for a connection that failed, timed out or ended. */
const PG_CLIENT_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end|connection timeout/i;

/** ioredis' messages while its connection is down, paused or too slow. */
const REDIS_MESSAGES = /Command timed out|Connection is closed|Stream isn't writeable|enableOfflineQueue|Reached the max retries per request|MaxRetriesPerRequest|Connection in subscriber mode|Redis did not become ready/i;

/**
 * SQLSTATEs that mean the server cannot serve us now rather than a bad query: connection
 * exceptions (08), operator intervention (57P: shutdown, crash), too many connections (53300),
 * statement or lock timeout (57014 query_canceled, 55P03 lock_not_available) and an idle
 * transaction ended by the server (25P03).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('57P') || ['53300', '57014', '55P03', '25P03'].includes(code);
}

function* causes(error: unknown): Generator<{ code?: unknown; message?: unknown; name?: unknown }> {
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    const e = current as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    yield e;
    // A connection to "localhost" tries every address: Node reports an AggregateError of them.
    if (Array.isArray(e.errors) && e.errors[0]) yield e.errors[0] as { code?: unknown; message?: unknown };
    current = e.cause;
  }
}

/** The dependency whose failure this error is, or undefined when it is a bug or a refusal. */
export function failedDependency(error: unknown): DependencyName | undefined {
  const sqlState = findPgError(error)?.code;
  if (sqlState) return isUnavailableSqlState(sqlState) ? 'database' : undefined;
  for (const e of causes(error)) {
    const message = typeof e.message === 'string' ? e.message : '';
    if (e.name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.test(message)) return 'redis';
    if (PG_CLIENT_MESSAGES.test(message)) return 'database';
    // Redis failures are caught where Redis is used (they name it); a bare socket error that gets
    // this far came from the database driver.
    if (typeof e.code === 'string' && SOCKET_CODES.has(e.code)) return 'database';
  }
  return undefined;
}

const PG_DEADLINE_MESSAGES = /timeout exceeded when trying to connect|Query read timeout|connection timeout/i;

/**
 * The database failure was a deadline running out (statement or lock timeout, the client's read
 * or connect timeout) rather than a connection that broke: trying again would wait as long again.
 */
export function ranOutOfTime(error: unknown): boolean {
  const sqlState = findPgError(error)?.code;
  if (sqlState) return sqlState === '57014' || sqlState === '55P03';
  for (const e of causes(error)) if (typeof e.message === 'string' && PG_DEADLINE_MESSAGES.test(e.message)) return true;
  return false;
}

/** A stackless summary of a dependency error for a log line. */
export function briefly(error: unknown): { reason: string; code?: string } {
  const codes = [...causes(error)].map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const messages = [...causes(error)].map((e) => e.message).filter((m): m is string => typeof m === 'string' && m !== '');
  // drizzle's own message repeats the query (and its parameters): the driver's cause says why.
  const reason = messages.find((m) => !m.startsWith('Failed query')) ?? messages[0] ?? String(error);
  return { reason, ...(codes[0] ? { code: codes[0] } : {}) };
}

export interface DependencyMonitor {
  /** A request or background step saw this dependency fail: marks it down (once) and probes it. */
  failed(name: DependencyName, error: unknown): void;
  /** The dependency answered again (a probe, or a connection event such as Redis `ready`). */
  recovered(name: DependencyName): void;
  /** Counts one request answered 503 because the dependency is missing. */
  refused(name: DependencyName): void;
  isUp(name: DependencyName): boolean;
  close(): void;
}

export interface MonitorOptions {
  logger: Logger;
  /** How to ask each dependency whether it answers again; probed while it is down. */
  probes: Partial<Record<DependencyName, () => Promise<void>>>;
  probeIntervalMs?: number;
}

export function createDependencyMonitor(options: MonitorOptions): DependencyMonitor {
  const { logger, probes } = options;
  const downSince = new Map<DependencyName, number>();
  const timers = new Map<DependencyName, NodeJS.Timeout>();
  for (const name of Object.keys(probes) as DependencyName[]) metrics.dependencyUp.set({ name }, 1);

  const probe = (name: DependencyName) => {
    const check = probes[name];
    if (!check || timers.has(name)) return;
    const timer = setInterval(() => {
      check().then(
        () => monitor.recovered(name),
        () => undefined,
      );
    }, options.probeIntervalMs ?? 1000);
    timer.unref();
    timers.set(name, timer);
  };

  const monitor: DependencyMonitor = {
    failed(name, error) {
      if (downSince.has(name)) return;
      downSince.set(name, Date.now());
      metrics.dependencyUp.set({ name }, 0);
      logger.error({ dependency: name, ...briefly(error) }, `${name} unavailable: requests that need it answer 503`);
      probe(name);
    },
    recovered(name) {
      const since = downSince.get(name);
      clearInterval(timers.get(name));
      timers.delete(name);
      if (since === undefined) return;
      downSince.delete(name);
      metrics.dependencyUp.set({ name }, 1);
      logger.info({ dependency: name, down_ms: Date.now() - since }, `${name} available again`);
    },
    refused(name) {
      metrics.dependencyRefusals.inc({ name });
    },
    isUp: (name) => !downSince.has(name),
    close() {
      for (const timer of timers.values()) clearInterval(timer);
      timers.clear();
    },
  };
  return monitor;
}
