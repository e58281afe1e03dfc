/**
 * Flash-sale mode's periodic repair (ORDERS_ASYNC_RECONCILE_SECONDS, and at start): inventory
 * reconciles the mirrors of every product ever admitted against PostgreSQL and the stream's
 * accepted units; this wing removes dead consumers' names from the group.
 */
import type { RedisClient } from '../../../platform/kv.ts';
import type { InventoryService } from '../../inventory/service.ts';
import { GROUP, PRUNE_CONSUMERS, STREAM } from './stream.ts';

export function createAsyncReconciler(deps: { redis: RedisClient; inventory: Pick<InventoryService, 'reconcileMirrors'> }) {
  const { redis } = deps;
  if (!('ordersPruneConsumers' in redis)) redis.defineCommand('ordersPruneConsumers', { lua: PRUNE_CONSUMERS });
  const prune = (redis as unknown as { ordersPruneConsumers: (n: number, ...a: Array<string | number>) => Promise<string[]> }).ordersPruneConsumers.bind(redis);

  /** `ids`: these products (loading their mirrors); default every product admitted so far. Returns how many. */
  const reconcile = (ids?: string[]): Promise<number> => deps.inventory.reconcileMirrors(STREAM, ids);

  /**
   * Removes consumers with nothing pending idle longer than `idleMs` (the jobs pass 10 ×
   * ORDERS_ASYNC_CLAIM_IDLE_MS): every worker process names its own consumer, so without this the
   * group keeps one name per process ever started. A live worker idles only for a read's BLOCK
   * (and would come back by itself); `keep` is spared. Returns the names removed.
   */
  async function pruneConsumers(idleMs: number, keep = ''): Promise<string[]> {
    try {
      return await prune(1, STREAM, GROUP, idleMs, keep);
    } catch (error) {
      if (String(error).includes('NOGROUP') || String(error).includes('no such key')) return []; // no consumer yet
      throw error;
    }
  }

  return { reconcile, pruneConsumers };
}
