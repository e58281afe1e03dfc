/**
 * The key-value store behind the cache, rate limits and revocation lists: Redis when REDIS_URL is
 * set, otherwise an in-process implementation with the same behaviour (expiry included).
 *
 * Redis commands fail fast while the connection is down (no offline queue: nothing waits for a
 * reconnect), and a command without an answer within `commandTimeoutMs` (a paused or stuck Redis)
 * fails too, so callers degrade — the cache reads as a miss, carts answer 503 — instead of hanging.
 *
 * With REDIS_CLUSTER=true the client is an ioredis Cluster seeded from REDIS_URL (Amazon MemoryDB,
 * a cluster-mode Redis): it follows MOVED/ASK redirections and refreshes its slot map after a
 * failover. Every key the app sends goes through the client's prefix; a prefix with a hash tag
 * (`{opply}:`) puts them all in one slot, so the multi-key scripts and MGETs are never CROSSSLOT.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
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
  /** REDIS_CLUSTER: an ioredis Cluster seeded from the URL instead of a single-node client. */
  cluster?: boolean | undefined;
}

/** A single-node client or a cluster one: the commands the app sends are the same on both. */
export type RedisClient = Redis | Cluster;

/**
 * The seed node, credentials and TLS of a cluster from a redis:// or rediss:// URL. TLS hosts are
 * used as given (`dnsLookup`), as AWS advises for MemoryDB and ElastiCache: the nodes' TLS
 * certificates name the endpoint's host names, not their IP addresses.
 */
function createCluster(url: string, keyPrefix: string, nodeOptions: RedisOptions): Cluster {
  const u = new URL(url);
  const tls = u.protocol === 'rediss:';
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
    keyPrefix,
    enableOfflineQueue: false,
    // ioredis's ready check sends CLUSTER INFO to a node the moment the slots are known; without an
    // offline queue that node's connection is often still opening, the check fails with
    // "Connection is closed" and the client starts over — on a busy machine for 30 s and more.
    // Ready here means the slots are known; waitForRedis then waits for the masters' connections.
    enableReadyCheck: false,
    clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
    ...(tls ? { dnsLookup: (address: string, callback: (error: Error | null, address: string) => void) => callback(null, address) } : {}),
    redisOptions: {
      ...nodeOptions,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(tls ? { tls: {} } : {}),
    },
  });
}

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1000;

export function createRedisClient(url: string, keyPrefix: string, logger?: Logger, options: RedisClientOptions = {}): RedisClient {
  const commandTimeout = options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
  const nodeOptions: RedisOptions = {
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    ...(commandTimeout > 0 ? { commandTimeout } : {}),
    // Reconnect forever with a capped back-off: Redis coming back must heal the service by itself.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  };
  const redis = options.cluster
    ? createCluster(url, keyPrefix, nodeOptions)
    : new Redis(url, { ...nodeOptions, keyPrefix, enableOfflineQueue: false });
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

const turns = new WeakMap<RedisClient, { mget: (keys: string[]) => Promise<Array<string | null>> }>();

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
function batchTurns(redis: RedisClient) {
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

  // Corking needs the one connection; a cluster's commands go to each slot's node (no corking).
  if (redis instanceof Redis) {
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = (command, stream) => {
      if (!corked && !ending && !stream && redis.status === 'ready' && redis.stream) {
        corked = redis.stream;
        corked.cork();
        schedule();
      }
      return send(command, stream);
    };
  }

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
export function batchedMget(redis: RedisClient, keys: string[]): Promise<Array<string | null>> {
  if (keys.length === 0) return Promise.resolve([]);
  if (!turns.has(redis)) batchTurns(redis);
  return turns.get(redis)!.mget(keys);
}

/**
 * Resolves when the client is ready, so the first requests do not fail while it connects; a
 * cluster client once it knows the slots and its connection to every master is open.
 */
export async function waitForRedis(redis: RedisClient, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis did not become ready in time')), timeoutMs);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  while (redis instanceof Cluster && !redis.nodes('master').every((node) => node.status === 'ready')) {
    if (Date.now() > deadline) throw new Error('Redis Cluster: not every master connection opened in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

export function createRedisStore(redis: RedisClient): KeyValueStore {
  redis.defineCommand('kvHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  const withHit = redis as RedisClient & { kvHit(key: string, window: number): Promise<[number, number]> };
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

/**
 * Deletes every key under a prefix (a test file's or a bench run's namespace) on its own
 * connection. On a cluster SCAN sees one node's keys, so it runs on every master, and each key is
 * deleted by its own DEL (routed to its slot: no CROSSSLOT whatever the prefix).
 */
export async function deleteKeysWithPrefix(url: string, prefix: string, options: { cluster?: boolean | undefined } = {}): Promise<void> {
  const cleaner = createRedisClient(url, '', undefined, { cluster: options.cluster });
  try {
    await waitForRedis(cleaner);
    const nodes = cleaner instanceof Cluster ? cleaner.nodes('master') : [cleaner];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await (node === cleaner ? node.del(...keys) : Promise.all(keys.map((key) => cleaner.del(key))));
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    cleaner.disconnect();
  }
}
