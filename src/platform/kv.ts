/**
 * The key-value store behind the cache, rate limits and revocation lists: Redis when REDIS_URL is
 * set, otherwise an in-process implementation with the same behaviour (expiry included).
 *
 * Redis commands fail fast while the connection is down (no offline queue: nothing waits for a
 * reconnect), and a command without an answer within `commandTimeoutMs` (a paused or stuck Redis)
 * fails too, so callers degrade — the cache reads as a miss, carts answer 503 — instead of hanging.
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

export interface RedisClientOptions {
  /** 0: no command timeout (a client for blocking reads such as XREADGROUP BLOCK). */
  commandTimeoutMs?: number | undefined;
  /** Told when the connection goes down and when it is ready again (dependencies.ts). */
  onDown?: (error: unknown) => void;
  onUp?: () => void;
}

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1000;

export function createRedisClient(url: string, keyPrefix: string, logger?: Logger, options: RedisClientOptions = {}): Redis {
  const commandTimeout = options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
  const redis = new Redis(url, {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    ...(commandTimeout > 0 ? { commandTimeout } : {}),
    // Reconnect forever with a capped back-off: Redis coming back must heal the service by itself.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  });
  batchTurns(redis);
  let down = false;
  // One line per outage (the monitor's, when there is one), not one per reconnect attempt.
  redis.on('error', (error) => {
    if (!down) {
      if (options.onDown) options.onDown(error);
      else logger?.warn({ err: error }, 'redis connection error');
    }
    down = true;
  });
  redis.on('ready', () => {
    if (down) {
      if (options.onUp) options.onUp();
      else logger?.info('redis connection restored');
    }
    down = false;
  });
  return redis;
}

interface TurnBatch {
  /** Every key asked for this turn, once, with its place in the one MGET. */
  keys: Map<string, number>;
  readers: Array<{ places: number[]; resolve: (values: Array<string | null>) => void; reject: (error: unknown) => void }>;
}

/** Keys in one batched MGET at most; a turn asking for more sends several. */
const MAX_BATCH_KEYS = 2000;

const turns = new WeakMap<Redis, { mget: (keys: string[]) => Promise<Array<string | null>> }>();

/**
 * What a client sends during one turn of the event loop leaves together at its end:
 *  - the commands go out in one socket write (the connection is corked at the first one and
 *    uncorked by an immediate, once the turn's I/O callbacks have run), and Redis answers them
 *    with one write too. Each command was otherwise a write system call of its own: under load
 *    that was a third of a request's CPU (docs/benchmarks.md);
 *  - the MGETs of the turn are one MGET of their keys, each key once, so fifty requests checking
 *    their tokens and reading the same page cost two commands, not a hundred.
 * Nothing waits longer than the turn (microseconds when idle); each caller gets its own values in
 * its own order, and a failure reaches every caller of the batch. Unlike ioredis' auto-pipelining,
 * nothing waits for an earlier batch's replies.
 */
function batchTurns(redis: Redis) {
  const send = redis.sendCommand.bind(redis);
  let corked: Redis['stream'] | undefined;
  let batch: TurnBatch | undefined;
  let scheduled = false;
  let ending = false;

  const sendReads = () => {
    const reads = batch;
    batch = undefined;
    if (!reads) return;
    redis.mget([...reads.keys.keys()]).then(
      (values) => reads.readers.forEach((r) => r.resolve(r.places.map((at) => values[at] ?? null))),
      (error: unknown) => reads.readers.forEach((r) => r.reject(error)),
    );
  };
  const endTurn = () => {
    scheduled = false;
    ending = true;
    sendReads();
    const stream = corked;
    corked = undefined;
    ending = false;
    stream?.uncork();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(endTurn);
  };

  redis.sendCommand = (command, stream) => {
    if (!corked && !ending && !stream && redis.status === 'ready' && redis.stream) {
      corked = redis.stream;
      corked.cork();
      schedule();
    }
    return send(command, stream);
  };

  const mget = (keys: string[]) =>
    new Promise<Array<string | null>>((resolve, reject) => {
      batch ??= { keys: new Map(), readers: [] };
      const seen = batch.keys;
      const places = keys.map((key) => {
        let at = seen.get(key);
        if (at === undefined) seen.set(key, (at = seen.size));
        return at;
      });
      batch.readers.push({ places, resolve, reject });
      // A very busy turn sends its reads in parts, so no single command keeps Redis long.
      if (seen.size >= MAX_BATCH_KEYS) sendReads();
      schedule();
    });
  turns.set(redis, { mget });
}

/** MGET through the client's turn batch (see batchTurns); a client made elsewhere gets one too. */
export function batchedMget(redis: Redis, keys: string[]): Promise<Array<string | null>> {
  if (keys.length === 0) return Promise.resolve([]);
  if (!turns.has(redis)) batchTurns(redis);
  return turns.get(redis)!.mget(keys);
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
    mget: (keys) => batchedMget(redis, keys),
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
