/**
 * The catalog's cached pages and its version.
 *
 * `catalog:version` moves on every change (product, price, stock, category); every cached page
 * and detail is stamped with the version it was built at and served only while that is still the
 * current one. Version and entry are read in one round trip (two pipelined GETs), so a hit costs
 * one trip to Redis. A writer moves the version before answering, so the very next read after a
 * 200 cannot be served an older price. `catalog:content-version` moves on staff changes only (not
 * on stock taken by orders): the cached counts key on it, see `countKey`.
 *
 * Choice: entries hold stock, and orders move the version after each commit that took or returned
 * stock (orders' onStockChanged → bumpVersion). Quantities are therefore never staler than the
 * last committed order, at the price of every order emptying the page cache; at high order rates
 * the next step is pages without stock plus a per-product stock mirror read per page. Holds are
 * applied per request (present.ts), so they are always live. Counts may lag a product selling out
 * by up to 60 s (see `count`).
 *
 * After each write the primary's WAL position is kept in `catalog:lsn`; a cache miss reads from a
 * replica only when it has replayed that position, else from the primary.
 */
import { createCache } from '../../platform/cache.ts';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { Platform } from '../../platform/platform.ts';

const VERSION_KEY = 'catalog:version';
const CONTENT_VERSION_KEY = 'catalog:content-version';
const LSN_KEY = 'catalog:lsn';

/** A cached entry: the version it was built at, a header and the serialized JSON bytes. */
export interface CachedEntry {
  header: string;
  body: string;
}

export function createCatalogCache(platform: Platform) {
  const { kv, db, logger, config } = platform;
  const cache = createCache(kv, 'catalog', logger);
  const ttl = config.catalog.cacheTtlSeconds;

  /** The current version, or null when the store cannot say (then nothing is cached). */
  const readVersion = async (key: string): Promise<string | null> => {
    try {
      const value = await kv.get(key);
      // A missing counter (fresh store) starts it, so entries can be stamped from now on.
      return value ?? String(await kv.incr(key));
    } catch (error) {
      logger.debug({ err: error }, 'catalog version unreadable; serving uncached');
      return null;
    }
  };

  const recordLsn = async () => {
    if (db.kind !== 'postgres') return;
    const rows = await queryRows<{ lsn: string }>(db.primary, sql`select pg_current_wal_lsn()::text as lsn`);
    if (rows[0]) await kv.set(LSN_KEY, rows[0].lsn);
  };

  return {
    /** Looks an entry up with the current version in one round trip. A stale stamp is a miss. */
    async lookup(key: string): Promise<{ version: string | null; hit: CachedEntry | null }> {
      const [version, raw] = await Promise.all([readVersion(VERSION_KEY), cache.get(key)]);
      if (version === null || raw === null) return { version, hit: null };
      const first = raw.indexOf('\n');
      const second = raw.indexOf('\n', first + 1);
      if (first < 0 || second < 0 || raw.slice(0, first) !== version) return { version, hit: null };
      return { version, hit: { header: raw.slice(first + 1, second), body: raw.slice(second + 1) } };
    },

    async store(key: string, version: string | null, entry: CachedEntry): Promise<void> {
      if (version === null) return;
      await cache.set(key, `${version}\n${entry.header}\n${entry.body}`, ttl);
    },

    /** The cached count of a filter set, valid for the current content version. */
    async count(filterKey: string, compute: () => Promise<number>): Promise<number> {
      const contentVersion = await readVersion(CONTENT_VERSION_KEY);
      if (contentVersion === null) return compute();
      const key = `count:${contentVersion}:${filterKey}`;
      const cached = await cache.get(key);
      if (cached !== null) return Number(cached);
      const count = await compute();
      // Short-lived: stock taken by orders can move a product in or out of `in_stock` without
      // moving the content version.
      await cache.set(key, String(count), Math.min(ttl, 60));
      return count;
    },

    /**
     * Runs a catalog read on the read path, but never on a replica that has not replayed the last
     * catalog write. When the store cannot say what that write was, the primary answers.
     */
    async read<T>(fn: (db: Db) => Promise<T>): Promise<T> {
      if (db.kind !== 'postgres' || db.replicas.status().length === 0) return db.read(fn);
      let minLsn: string | null;
      try {
        minLsn = await kv.get(LSN_KEY);
      } catch {
        return fn(db.primary);
      }
      return db.read(fn, { minLsn });
    },

    /**
     * Called before a staff write: moves the version so pages built while the write runs are not
     * kept, and proves the store is reachable — if it is not, the write is refused (503) rather
     * than left possibly invisible behind a cache that comes back later.
     */
    async beforeWrite(): Promise<void> {
      await kv.incr(VERSION_KEY);
    },

    /** Moves the versions after a change; `content` is false for stock moved by orders. */
    async bump(options: { content: boolean }): Promise<void> {
      await recordLsn();
      await kv.incr(VERSION_KEY);
      if (options.content) await kv.incr(CONTENT_VERSION_KEY);
    },
  };
}

export type CatalogCache = ReturnType<typeof createCatalogCache>;
