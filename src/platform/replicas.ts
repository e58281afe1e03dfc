/**
 * Health-aware read routing. Each replica is checked in the background (reachable, in recovery,
 * replay lag within bound); reads go round-robin to healthy replicas and to the primary when none
 * is. A read that fails on a replica for a connection reason is retried on the primary at once,
 * and the replica is skipped until a later check finds it healthy again: no request fails because
 * a replica is down.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from './db.ts';
import { briefly, failedDependency } from './dependencies.ts';
import { findPgError } from './errors.ts';
import { metrics } from './metrics.ts';

export interface ReplicaTarget {
  name: string;
  db: Db;
}

interface ReplicaState extends ReplicaTarget {
  healthy: boolean;
  lagSeconds: number | null;
}

export interface ReadOptions {
  /**
   * A primary WAL position (`pg_current_wal_lsn()` after a write) the replica must have replayed;
   * a replica still behind it is passed over for the primary, so a reader never sees data older
   * than that write.
   */
  minLsn?: string | null | undefined;
}

export interface ReplicaRouter {
  /** Runs a read-only function on a healthy replica, falling back to the primary. */
  read<T>(fn: (db: Db) => Promise<T>, options?: ReadOptions): Promise<T>;
  /** Checks every replica now (also runs on a timer once started). */
  check(): Promise<void>;
  status(): Array<{ name: string; healthy: boolean; lagSeconds: number | null }>;
  start(): Promise<void>;
  stop(): void;
}

export interface ReplicaRouterOptions {
  maxLagSeconds?: number;
  checkIntervalMs?: number;
  logger?: Logger | undefined;
}

/**
 * Errors that say "this replica cannot serve the read now", as opposed to a bad query: it cannot
 * be reached, is going away, timed out, or cancelled the read for a conflict with replay (40001 on
 * a hot standby). The read is then retried on the primary.
 */
export function isConnectionError(error: unknown): boolean {
  return failedDependency(error) === 'database' || findPgError(error)?.code === '40001';
}

async function hasReplayed(db: Db, lsn: string): Promise<boolean> {
  const result = (await db.execute(sql`select coalesce(pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn, false) as ok`)) as unknown as {
    rows: Array<{ ok: boolean }>;
  };
  return result.rows[0]?.ok === true;
}

export function createReplicaRouter(primary: Db, targets: ReplicaTarget[], options: ReplicaRouterOptions): ReplicaRouter {
  const maxLag = options.maxLagSeconds ?? 5;
  const replicas: ReplicaState[] = targets.map((t) => ({ ...t, healthy: false, lagSeconds: null }));
  let next = 0;
  let timer: NodeJS.Timeout | undefined;

  const markDown = (replica: ReplicaState, error: unknown) => {
    if (replica.healthy) options.logger?.warn({ replica: replica.name, ...briefly(error) }, 'replica unhealthy, reads go to the primary');
    replica.healthy = false;
    metrics.replicaHealthy.set({ replica: replica.name }, 0);
  };

  const checkOne = async (replica: ReplicaState) => {
    try {
      // Caught up (all received WAL replayed) counts as no lag, even when the primary is idle.
      const result = (await replica.db.execute(sql`
        select pg_is_in_recovery() as in_recovery,
               case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
                    else extract(epoch from now() - pg_last_xact_replay_timestamp()) end as lag`)) as unknown as {
        rows: Array<{ in_recovery: boolean; lag: number | string | null }>;
      };
      const row = result.rows[0];
      const lag = row?.lag === null || row?.lag === undefined ? null : Number(row.lag);
      replica.lagSeconds = lag;
      if (lag !== null) metrics.replicaLag.set({ replica: replica.name }, lag);
      const healthy = row?.in_recovery === true && lag !== null && lag <= maxLag;
      if (healthy && !replica.healthy) options.logger?.info({ replica: replica.name, lag }, 'replica healthy, taking reads');
      if (!healthy && replica.healthy) options.logger?.warn({ replica: replica.name, lag }, 'replica lagging, reads go to the primary');
      replica.healthy = healthy;
      metrics.replicaHealthy.set({ replica: replica.name }, healthy ? 1 : 0);
    } catch (error) {
      markDown(replica, error);
    }
  };

  const pick = (): ReplicaState | undefined => {
    for (let i = 0; i < replicas.length; i++) {
      const replica = replicas[(next + i) % replicas.length]!;
      if (replica.healthy) {
        next = (next + i + 1) % replicas.length;
        return replica;
      }
    }
    return undefined;
  };

  const router: ReplicaRouter = {
    async read(fn, readOptions) {
      let replica = pick();
      const candidate = replica;
      if (candidate && readOptions?.minLsn) {
        try {
          if (!(await hasReplayed(candidate.db, readOptions.minLsn))) replica = undefined;
        } catch (error) {
          if (!isConnectionError(error)) throw error;
          markDown(candidate, error);
          replica = undefined;
        }
      }
      if (replica) {
        try {
          const result = await fn(replica.db);
          metrics.dbReads.inc({ target: 'replica' });
          return result;
        } catch (error) {
          if (!isConnectionError(error)) throw error;
          markDown(replica, error);
        }
      }
      metrics.dbReads.inc({ target: 'primary' });
      return fn(primary);
    },
    check: async () => {
      await Promise.all(replicas.map(checkOne));
    },
    status: () => replicas.map(({ name, healthy, lagSeconds }) => ({ name, healthy, lagSeconds })),
    async start() {
      if (replicas.length === 0) return;
      await router.check();
      timer = setInterval(() => void router.check(), options.checkIntervalMs ?? 2000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
  return router;
}
