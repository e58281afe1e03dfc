/**
 * The mirror is a gate, not the record: at start and every ORDERS_ASYNC_RECONCILE_SECONDS, each
 * product ever admitted in flash-sale mode gets its mirror set from PostgreSQL (stock and version,
 * unless the mirror already holds a newer version) and its accepted count recomputed from the
 * stream (mirror-lua.ts RECONCILE), so available = database stock − accepted-but-unwritten units.
 * Any drift (a lost script reply, a Redis restored from an older file) is repaired here. The same
 * step loads a mirror found missing at admission (a Redis restarted empty, a key evicted), with the
 * product's facts, once for all concurrent callers (accepted-units.ts).
 */
import type { RedisClient } from '../../platform/kv.ts';
import type { Db } from '../../platform/db.ts';
import { productKeys } from './holds-redis.ts';
import { MIRRORED, RECONCILE } from './mirror-lua.ts';
import { readProducts } from './stock.ts';

const CHUNK = 500;

export function createMirrorReconciler(deps: { redis: RedisClient; primary: Db }) {
  const { redis } = deps;
  if (!('inventoryReconcile' in redis)) redis.defineCommand('inventoryReconcile', { lua: RECONCILE });
  const script = (redis as unknown as { inventoryReconcile: (n: number, ...a: Array<string | number>) => Promise<number> }).inventoryReconcile.bind(redis);

  /**
   * `stream`: the accepted-order stream whose entries are the accepted units. `ids`: these
   * products (loading their mirrors); default every product admitted so far. Returns how many.
   */
  async function reconcile(stream: string, ids?: string[]): Promise<number> {
    const all = ids ?? (await redis.smembers(MIRRORED));
    let done = 0;
    for (let i = 0; i < all.length; i += CHUNK) {
      const found = await readProducts(deps.primary, all.slice(i, i + CHUNK));
      const products = [...found.values()];
      if (products.length === 0) continue;
      const keys = [stream, ...products.flatMap((p) => productKeys(p.id))];
      await script(keys.length, ...keys, products.length, ...products.flatMap((p) => [p.id, p.stock, p.version, p.name, p.priceCents, p.archived ? 1 : 0]));
      done += products.length;
    }
    return done;
  }

  return { reconcile };
}
