/** The platform parts every module service receives. */
import type { Logger } from 'pino';
import type { ReadyConfig } from './signing-secret.ts';
import type { Database } from './db.ts';
import type { DependencyMonitor } from './dependencies.ts';
import type { KeyValueStore, RedisClient } from './kv.ts';

export interface Platform {
  config: ReadyConfig;
  logger: Logger;
  db: Database;
  kv: KeyValueStore;
  /** The Redis client when REDIS_URL is set; modules with a Redis implementation use it. */
  redis: RedisClient | null;
  /** Outage tracking: one log line down, one back, `dependency_up` (dependencies.ts). */
  dependencies: DependencyMonitor;
}
