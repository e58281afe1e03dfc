/**
 * The key-value store behind the cache, rate limits and revocation lists: Redis when REDIS_URL is
 * set, otherwise an in-process implementation with the same behaviour (expiry included).
 *
 * Redis commands fail fast while the connection is down (no offline queue), so callers can
 * degrade — the cache reads as a miss — instead of hanging.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface KeyValueStore {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  mget(keys: string[]): Promise<Array<string | null>>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets the key only when it does not exist (a lease); true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(...keys: string[]): Promise<void>;
  incr(key: string): Promise<number>;
  /** Counts one hit in a fixed window; returns the count so far and the seconds left in it. */
  hit(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createRedisClient(url: string, keyPrefix: string, logger?: Logger): Redis {
  const redis = new Redis(url, {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Reconnect forever with a capped back-off: Redis coming back must heal the service by itself.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  });
  let down = false;
  redis.on('error', (error) => {
    if (!down) logger?.warn({ err: error }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger?.info('redis connection restored');
    down = false;
  });
  return redis;
}

/** Resolves when the client is ready, so the first requests do not fail while it connects. */
export async function waitForRedis(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis did not become ready in time')), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

export function createRedisStore(redis: Redis): KeyValueStore {
  redis.defineCommand('kvHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  const withHit = redis as Redis & { kvHit(key: string, window: number): Promise<[number, number]> };
  return {
    kind: 'redis',
    get: (key) => redis.get(key),
    mget: (keys) => (keys.length === 0 ? Promise.resolve([]) : redis.mget(keys)),
    set: async (key, value, ttlSeconds) => {
      if (ttlSeconds) await redis.set(key, value, 'EX', ttlSeconds);
      else await redis.set(key, value);
    },
    setIfAbsent: async (key, value, ttlSeconds) => (await redis.set(key, value, 'EX', ttlSeconds, 'NX')) === 'OK',
    del: async (...keys) => {
      if (keys.length > 0) await redis.del(...keys);
    },
    incr: (key) => redis.incr(key),
    hit: async (key, windowSeconds) => {
      const [count, resetSeconds] = await withHit.kvHit(key, windowSeconds);
      return { count, resetSeconds };
    },
    ping: async () => {
      await redis.ping();
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

interface Entry {
  value: string;
  expiresAt: number;
}

/** In-process store for the embedded default; expired entries are swept so memory stays bounded. */
export function createMemoryStore(now: () => number = Date.now): KeyValueStore {
  const entries = new Map<string, Entry>();
  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const sweep = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }, 30_000);
  sweep.unref();
  const put = (key: string, value: string, ttlSeconds?: number) =>
    entries.set(key, { value, expiresAt: ttlSeconds ? now() + ttlSeconds * 1000 : Infinity });

  return {
    kind: 'memory',
    get: async (key) => live(key)?.value ?? null,
    mget: async (keys) => keys.map((key) => live(key)?.value ?? null),
    set: async (key, value, ttlSeconds) => void put(key, value, ttlSeconds),
    setIfAbsent: async (key, value, ttlSeconds) => {
      if (live(key)) return false;
      put(key, value, ttlSeconds);
      return true;
    },
    del: async (...keys) => keys.forEach((key) => entries.delete(key)),
    incr: async (key) => {
      const entry = live(key);
      const next = Number(entry?.value ?? 0) + 1;
      entries.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? Infinity });
      return next;
    },
    hit: async (key, windowSeconds) => {
      const entry = live(key);
      const expiresAt = entry?.expiresAt ?? now() + windowSeconds * 1000;
      const count = Number(entry?.value ?? 0) + 1;
      entries.set(key, { value: String(count), expiresAt });
      return { count, resetSeconds: Math.max(1, Math.ceil((expiresAt - now()) / 1000)) };
    },
    ping: async () => undefined,
    close: async () => {
      clearInterval(sweep);
      entries.clear();
    },
  };
}

/** Deletes every key under a prefix (a test file's or a bench run's namespace) on its own connection. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  const cleaner = createRedisClient(url, '');
  try {
    await waitForRedis(cleaner);
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await cleaner.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    cleaner.disconnect();
  }
}
