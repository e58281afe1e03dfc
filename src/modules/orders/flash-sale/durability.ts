/**
 * Flash-sale mode's durability rule (the wing's, not the platform's: only this mode needs it; the
 * REDIS_DURABILITY setting itself is parsed with the config, platform/redis-durability-setting.ts).
 *
 * Does this Redis keep every write it acknowledged? Flash-sale mode (ORDERS_MODE=async) accepts an
 * order once Redis has it, so a Redis that can lose the last second of writes on a crash can lose
 * accepted orders. Two ways to be durable:
 *
 * - **verify** (REDIS_DURABILITY unset or `verify`): ask the server. Durable only with
 *   `appendonly yes` and `appendfsync always` (CONFIG GET), and an append-only file that is writing
 *   (INFO persistence). `everysec` loses up to a second of acknowledged writes on a crash, `no`
 *   more; RDB snapshots alone lose everything since the last one.
 * - **memorydb** (REDIS_DURABILITY=memorydb): the operator declares an Amazon MemoryDB endpoint,
 *   which acknowledges a write only once its multi-AZ transaction log has it. MemoryDB disables
 *   CONFIG, so this cannot be read from the server; the declaration is refused when the server
 *   answers CONFIG (it is not MemoryDB) or the host is an ElastiCache one (ElastiCache replicates
 *   asynchronously and is not durable).
 *
 * Without CONFIG and without the declaration (ElastiCache, a renamed CONFIG, an ACL user without
 * `config|get`), the server counts as not durable: nothing proves it is.
 */

import { ASYNC_NEEDS_REDIS_URL, parseRedisDurability, RedisDurabilityError, type RedisDurabilitySetting } from '../../../platform/redis-durability-setting.ts';

/** What ioredis' Redis and Cluster both offer; all this module sends. */
export interface RedisCommandClient {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** ioredis' connection state, when the client is one: a client still connecting is waited for. */
interface ConnectingClient {
  status?: string;
  once?(event: 'ready' | 'end', listener: () => void): unknown;
  off?(event: 'ready' | 'end', listener: () => void): unknown;
}

/**
 * Waits (at most `timeoutMs`, or until it gives up) for a client that is still connecting: the
 * app's clients send nothing while disconnected (no offline queue), so a question asked at
 * start-up, before the connection is up, would otherwise fail at once.
 */
async function whenReady(client: RedisCommandClient, timeoutMs: number): Promise<void> {
  const c = client as RedisCommandClient & ConnectingClient;
  if (!c.once || !c.off || c.status === undefined || c.status === 'ready' || c.status === 'end') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      c.off!('ready', done);
      c.off!('end', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    c.once!('ready', done);
    c.once!('end', done);
  });
}

/** ElastiCache endpoints (`….cache.amazonaws.com`): asynchronous replication, not durable. */
export function isElastiCacheHost(url: string | undefined): boolean {
  if (!url) return false;
  try {
    return /\.cache\.amazonaws\.com(\.cn)?$/i.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

export interface RedisDurability {
  durable: boolean;
  /** One sentence for a log line or a check:production row: why (not) durable, and what to change. */
  detail: string;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** CONFIG GET one parameter; undefined when CONFIG is unavailable (renamed, ACL, managed service). */
async function configGet(client: RedisCommandClient, parameter: string): Promise<string | undefined> {
  try {
    const reply = await client.call('CONFIG', 'GET', parameter);
    // RESP2: [name, value]; RESP3 (or a proxy): { name: value }.
    if (Array.isArray(reply)) return reply.length >= 2 ? String(reply[1]) : undefined;
    if (reply && typeof reply === 'object') return (reply as Record<string, unknown>)[parameter] as string | undefined;
    return undefined;
  } catch (error) {
    // An error reply means "not allowed here"; a connection error is for the caller.
    if (error instanceof Error && error.name === 'ReplyError') return undefined;
    throw error;
  }
}

/** INFO persistence as name → value. */
async function persistenceInfo(client: RedisCommandClient): Promise<Map<string, string>> {
  const text = String(await client.call('INFO', 'persistence'));
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}

export interface RedisDurabilityOptions {
  /** REDIS_DURABILITY (parsed); default `verify`. */
  setting?: RedisDurabilitySetting;
  /** REDIS_URL, to refuse a MemoryDB declaration on an ElastiCache host. */
  url?: string | undefined;
  /** How long to wait for a client that is still connecting (default 5 s). */
  readyTimeoutMs?: number;
}

/**
 * Whether `client`'s server persists every acknowledged write. Never throws for a server that
 * answers; a server that does not answer is reported as not durable, with the error.
 */
export async function redisDurability(client: RedisCommandClient, options: RedisDurabilityOptions = {}): Promise<RedisDurability> {
  const setting = options.setting ?? 'verify';
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  let info: Map<string, string>;
  try {
    await whenReady(client, options.readyTimeoutMs ?? 5000);
    appendonly = await configGet(client, 'appendonly');
    appendfsync = appendonly === undefined ? undefined : await configGet(client, 'appendfsync');
    info = await persistenceInfo(client);
  } catch (error) {
    return { durable: false, detail: `could not ask Redis about persistence: ${message(error)}` };
  }

  if (appendonly !== undefined) {
    const prefix = setting === 'memorydb' ? 'REDIS_DURABILITY=memorydb, but this server answers CONFIG (MemoryDB does not); it has ' : '';
    if (appendonly !== 'yes') {
      return {
        durable: false,
        detail: `${prefix}appendonly ${appendonly}: a restart loses every write since the last snapshot; run Redis with appendonly yes and appendfsync always`,
      };
    }
    if (appendfsync !== 'always') {
      return {
        durable: false,
        detail: `${prefix}appendonly yes but appendfsync ${appendfsync ?? 'unknown'}: a crash loses the writes not yet fsynced; set appendfsync always`,
      };
    }
    const status = info.get('aof_last_write_status');
    if (status !== undefined && status !== 'ok') {
      return { durable: false, detail: `appendonly yes, appendfsync always, but the append-only file is failing (aof_last_write_status:${status})` };
    }
    return { durable: true, detail: 'appendonly yes, appendfsync always: every acknowledged write is on disk' };
  }

  if (setting === 'memorydb') {
    if (isElastiCacheHost(options.url)) {
      return {
        durable: false,
        detail: 'REDIS_DURABILITY=memorydb, but REDIS_URL is an ElastiCache host: ElastiCache replicates asynchronously and can lose acknowledged writes; use Amazon MemoryDB',
      };
    }
    return { durable: true, detail: 'declared Amazon MemoryDB (REDIS_DURABILITY=memorydb): writes are acknowledged after its multi-AZ transaction log' };
  }

  const aof = info.get('aof_enabled') === '1' ? 'its append-only file is on, but its fsync policy' : 'it reports no append-only file, and its settings';
  return {
    durable: false,
    detail: `CONFIG is unavailable on this Redis, so ${aof} cannot be verified; use a Redis with appendonly yes and appendfsync always, or Amazon MemoryDB with REDIS_DURABILITY=memorydb`,
  };
}

/** The settings flash-sale mode depends on (a slice of the config, or env-derived values). */
export interface AsyncOrdersStoreSettings {
  /** ORDERS_MODE: only `async` is checked. */
  ordersMode: string | undefined;
  /** REDIS_URL. */
  redisUrl: string | undefined;
  /** REDIS_DURABILITY, raw or parsed. */
  redisDurability?: string | undefined;
}

/**
 * Start-up guard for ORDERS_MODE=async: throws RedisDurabilityError, with what to change, when
 * REDIS_URL is unset or the Redis behind `client` does not persist every acknowledged write.
 * Does nothing in any other mode.
 */
export async function assertAsyncOrdersStore(settings: AsyncOrdersStoreSettings, client: RedisCommandClient | undefined): Promise<void> {
  if (settings.ordersMode !== 'async') return;
  if (!settings.redisUrl || !client) {
    throw new RedisDurabilityError(ASYNC_NEEDS_REDIS_URL);
  }
  const result = await redisDurability(client, { setting: parseRedisDurability(settings.redisDurability), url: settings.redisUrl });
  if (!result.durable) {
    throw new RedisDurabilityError(`ORDERS_MODE=async refuses this Redis, which could lose accepted orders: ${result.detail}`);
  }
}
