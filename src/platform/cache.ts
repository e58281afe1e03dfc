/**
 * Cache-aside over the key-value store. A cache is never the source of truth, so every failure of
 * the store reads as a miss and a failed write is dropped: with Redis down the service answers
 * from the database, only slower.
 */
import type { Logger } from 'pino';
import type { KeyValueStore } from './kv.ts';
import { metrics } from './metrics.ts';

export interface Cache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
}

export function createCache(kv: KeyValueStore, name: string, logger?: Logger): Cache {
  const prefix = `cache:${name}:`;
  return {
    async get(key) {
      try {
        const value = await kv.get(prefix + key);
        metrics.cacheLookups.inc({ cache: name, result: value === null ? 'miss' : 'hit' });
        return value;
      } catch (error) {
        metrics.cacheLookups.inc({ cache: name, result: 'error' });
        logger?.debug({ err: error }, 'cache read failed, treated as a miss');
        return null;
      }
    },
    async set(key, value, ttlSeconds) {
      try {
        await kv.set(prefix + key, value, ttlSeconds);
      } catch (error) {
        logger?.debug({ err: error }, 'cache write failed, dropped');
      }
    },
    async del(...keys) {
      try {
        await kv.del(...keys.map((k) => prefix + k));
      } catch (error) {
        logger?.debug({ err: error }, 'cache delete failed');
      }
    },
  };
}
