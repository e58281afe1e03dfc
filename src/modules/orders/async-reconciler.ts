/**
 * The mirror is a gate, not the record: at start and every ORDERS_ASYNC_RECONCILE_SECONDS, each
 * product ever admitted in flash-sale mode gets its mirror set from PostgreSQL (stock and version,
 * unless the mirror already holds a newer version) and its accepted count recomputed from the
 * stream (async-lua.ts RECONCILE), so available = database stock − accepted-but-unwritten units.
 * Any drift (a lost script reply, a Redis restored from an older file) is repaired here.
 * The same job removes dead consumers' names from the group (pruneConsumers).
 */
import type { RedisClient } from '../../platform/kv.ts';
import type { Db } from '../../platform/db.ts';
import { getProductsForHold } from '../catalog/holds.ts';
import { productKeys } from '../catalog/holds-redis.ts';
import { GROUP, MIRRORED, PRUNE_CONSUMERS, RECONCILE, STREAM } from './async-lua.ts';

const CHUNK = 500;

export function createAsyncReconciler(deps: { redis: RedisClient; primary: Db }) {
  const { redis } = deps;
  if (!('ordersReconcile' in redis)) redis.defineCommand('ordersReconcile', { lua: RECONCILE });
  if (!('ordersPruneConsumers' in redis)) redis.defineCommand('ordersPruneConsumers', { lua: PRUNE_CONSUMERS });
  const scripts = redis as unknown as {
    ordersReconcile: (n: number, ...a: Array<string | number>) => Promise<number>;
    ordersPruneConsumers: (n: number, ...a: Array<string | number>) => Promise<string[]>;
  };
  const script = scripts.ordersReconcile.bind(redis);

  /** `ids`: these products (loading their mirrors); default every product admitted so far. Returns how many. */
  async function reconcile(ids?: string[]): Promise<number> {
    const all = ids ?? (await redis.smembers(MIRRORED));
    let done = 0;
    for (let i = 0; i < all.length; i += CHUNK) {
      const found = await getProductsForHold(deps.primary, all.slice(i, i + CHUNK));
      const products = [...found.values()];
      if (products.length === 0) continue;
      const keys = [STREAM, ...products.flatMap((p) => productKeys(p.id))];
      await script(keys.length, ...keys, products.length, ...products.flatMap((p) => [p.id, p.stock, p.version]));
      done += products.length;
    }
    return done;
  }

  /**
   * Removes consumers with nothing pending idle longer than `idleMs` (the jobs pass 10 ×
   * ORDERS_ASYNC_CLAIM_IDLE_MS): every worker process names its own consumer, so without this the
   * group keeps one name per process ever started. A live worker idles only for a read's BLOCK
   * (and would come back by itself); `keep` is spared. Returns the names removed.
   */
  async function pruneConsumers(idleMs: number, keep = ''): Promise<string[]> {
    try {
      return await scripts.ordersPruneConsumers(1, STREAM, GROUP, idleMs, keep);
    } catch (error) {
      if (String(error).includes('NOGROUP') || String(error).includes('no such key')) return []; // no consumer yet
      throw error;
    }
  }

  return { reconcile, pruneConsumers };
}
