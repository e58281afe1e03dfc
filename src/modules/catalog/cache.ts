/**
 * The catalog's cached pages and its version.
 *
 * `catalog:version` moves on every change (product, price, stock, category); every cached page
 * and detail is stamped with the version it was built at and served only while that is still the
 * current one. Version and entry are read in one round trip (two pipelined GETs), so a hit costs
 * one trip to Redis; a search or suggestion reads the content version in that same trip (its
 * build expands the words with it), and a built entry's write is not waited for. A writer moves
 * the version before answering, so the very next read after a 200 cannot be served an older
 * price. `catalog:content-version` moves on staff changes only (not on stock taken by orders):
 * the cached counts and facets key on it, see `derived`.
 *
 * Choice: entries hold stock, and orders move the version after each commit that took or returned
 * stock (orders' onStockChanged → bumpVersion). Quantities are therefore never staler than the
 * last committed order, at the price of every order emptying the page cache; at high order rates
 * the next step is pages without stock plus a per-product stock mirror read per page. Holds are
 * applied per request (present.ts), so they are always live. Counts and facets may lag a product
 * selling out by up to 60 s (see `derived`).
 *
 * After each write the primary's WAL position is kept in `catalog:lsn`; a cache miss reads from a
 * replica only when it has replayed that position, else from the primary.
 *
 * An entry keeps, beside the plain JSON, its br and gzip copies (base64 in the shared entry; made
 * once, when the entry is built, for pages of at least COMPRESSION_MIN_BYTES), so a hit in any
 * coding costs no compression in any process.
 *
 * Each process also keeps the entries it served, decoded (bytes and coded copies with their entity
 * tags, product ids), next to the version they were built at. They are only ever a copy of a shared entry and are served
 * only while the shared version still matches, so they change no staleness rule above; what they
 * save is moving and decoding the page on every hit, and they let the version be read with the
 * held units (a hit is one MGET, batched with the other requests of its turn; two reads side by
 * side when the hold store cannot).
 */
import { createCache } from '../../platform/cache.ts';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import { metrics } from '../../platform/metrics.ts';
import type { Platform } from '../../platform/platform.ts';
import { compress, representation, type Representation } from '../../platform/http/compression.ts';
import type { HeldUnits } from './present.ts';

const VERSION_KEY = 'catalog:version';
const CONTENT_VERSION_KEY = 'catalog:content-version';
const LSN_KEY = 'catalog:lsn';
/** Shared entries' layout (version, header, br, gzip, body); a new layout gets new keys. */
const LAYOUT = 'v2:';

/** A cached entry: the version it was built at, a header and the serialized JSON bytes. */
export interface CachedEntry {
  header: string;
  body: string;
}

/** An entry ready to send: its products' ids and stocks, the bytes (plain and coded) and their tags. */
export interface ReadyEntry {
  version: string;
  expiresAt: number;
  ids: string[];
  stocks: number[];
  rep: Representation;
  /** The page with live holds applied, by the held units of its products (present.ts). */
  variants: Map<string, Representation>;
}

/**
 * What a miss read beside the shared entry, for the build: the content version when asked
 * (`undefined`: not read; `null`: the store cannot say).
 */
export interface MissReads {
  contentVersion?: string | null | undefined;
}

/** Entries kept decoded per process; a bound on memory, not on staleness (the version is). */
const LOCAL_ENTRIES = 500;

/** An entry as the shared cache holds it: its JSON and, for a long one, the coded copies. */
interface StoredEntry extends CachedEntry {
  br: string;
  gzip: string;
}

function ready(version: string, expiresAt: number, entry: StoredEntry, minBytes: number): ReadyEntry {
  const ids: string[] = [];
  const stocks: number[] = [];
  if (entry.header !== '') {
    for (const pair of entry.header.split(',')) {
      const at = pair.indexOf(':');
      ids.push(pair.slice(0, at));
      stocks.push(Number(pair.slice(at + 1)));
    }
  }
  const coded = entry.br && entry.gzip ? { br: Buffer.from(entry.br, 'base64'), gzip: Buffer.from(entry.gzip, 'base64') } : {};
  return { version, expiresAt, ids, stocks, rep: representation(Buffer.from(entry.body), minBytes, coded), variants: new Map() };
}

/** A built entry with its coded copies when it is long enough to be sent compressed. */
async function withCopies(built: CachedEntry, minBytes: number): Promise<StoredEntry> {
  const bytes = Buffer.from(built.body);
  if (bytes.length < minBytes) return { ...built, br: '', gzip: '' };
  const [br, gzip] = await Promise.all([compress(bytes, 'br'), compress(bytes, 'gzip')]);
  return { ...built, br: br.toString('base64'), gzip: gzip.toString('base64') };
}

const parse = (raw: string): { version: string; entry: StoredEntry } | null => {
  const at: number[] = [];
  let from = 0;
  for (let i = 0; i < 4; i++) {
    const next = raw.indexOf('\n', from);
    if (next < 0) return null;
    at.push(next);
    from = next + 1;
  }
  const [a, b, c, d] = at as [number, number, number, number];
  return { version: raw.slice(0, a), entry: { header: raw.slice(a + 1, b), br: raw.slice(b + 1, c), gzip: raw.slice(c + 1, d), body: raw.slice(d + 1) } };
};

const sameIds = (a: string[], b: string[]) => a.length === b.length && a.every((id, i) => id === b[i]);

export function createCatalogCache(platform: Platform) {
  const { kv, db, logger, config } = platform;
  const cache = createCache(kv, 'catalog', logger);
  const ttl = config.catalog.cacheTtlSeconds;
  const minBytes = config.http.compressMinBytes;
  const local = new Map<string, ReadyEntry>();
  const computing = new Map<string, Promise<unknown>>();
  const localHits = metrics.cacheLookups.labels({ cache: 'catalog', result: 'hit' });

  const remember = (key: string, entry: ReadyEntry) => {
    local.delete(key);
    local.set(key, entry);
    // Oldest first out: Map keeps insertion order.
    if (local.size > LOCAL_ENTRIES) local.delete(local.keys().next().value!);
  };

  /** The shared entry for the key when it is stamped with `version`, decoded. */
  const decode = (key: string, version: string, raw: string | null): ReadyEntry | null => {
    const stored = raw === null ? null : parse(raw);
    if (!stored || stored.version !== version) return null;
    const entry = ready(version, Date.now() + ttl * 1000, stored.entry, minBytes);
    remember(key, entry);
    return entry;
  };

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

  /**
   * The version and the held units of `ids`: one Redis command when the hold store can read the
   * version with them, else the two reads side by side. Should the one command fail, the two
   * reads run, each degrading on its own (version unreadable: uncached; holds: none).
   */
  const versionAndHeld = async (ids: string[], heldUnits: HeldUnits | undefined): Promise<[string | null, Map<string, number> | undefined]> => {
    if (ids.length > 0 && heldUnits?.withCounter) {
      try {
        const { counter, held } = await heldUnits.withCounter(ids, VERSION_KEY);
        return [counter, held];
      } catch (error) {
        logger.debug({ err: error }, 'catalog version and holds unreadable in one command; reading them apart');
      }
    }
    return Promise.all([readVersion(VERSION_KEY), ids.length > 0 ? heldUnits?.(ids) : undefined]);
  };

  // Only replicas can serve a read older than a write; without them there is nothing to record.
  const currentLsn = async (): Promise<string | undefined> => {
    if (db.kind !== 'postgres' || db.replicas.status().length === 0) return undefined;
    const rows = await queryRows<{ lsn: string }>(db.primary, sql`select pg_current_wal_lsn()::text as lsn`);
    return rows[0]?.lsn;
  };

  /**
   * A value computed over every match of a filter set (its count, its facets), cached as JSON for
   * the current content version. Short-lived: stock taken by orders can move a product in or out
   * of `in_stock` without moving the content version, so such a value may lag an order that sells
   * a product out (or returns its last units) by up to 60 s; staff changes move the version.
   */
  async function derived<T>(kind: string, filterKey: string, compute: () => Promise<T>): Promise<T> {
    const contentVersion = await readVersion(CONTENT_VERSION_KEY);
    if (contentVersion === null) return compute();
    const key = `${kind}:${contentVersion}:${filterKey}`;
    // Concurrent misses of one key share one query: a count over a large catalog takes a third
    // of a second, and fifty of them at once would hold the pool for seconds.
    const pending = computing.get(key);
    if (pending) return pending as Promise<T>;
    const computed = (async () => {
      const cached = await cache.get(key);
      if (cached !== null) return JSON.parse(cached) as T;
      const value = await compute();
      await cache.set(key, JSON.stringify(value), Math.min(ttl, 60));
      return value;
    })();
    computing.set(key, computed);
    try {
      return await computed;
    } finally {
      computing.delete(key);
    }
  }

  return {
    /**
     * The entry for `key` at the current version, built (and shared) when there is none, with the
     * live held units of its products. A hit known to this process costs one round trip: the
     * version and the held units are read together (see `versionAndHeld`). `codedCopies: false`
     * keeps no br/gzip copies in the entry: a client that accepts them has its copy made on its
     * first request, once per process (compression.ts's codedCopy) — for short entries asked
     * once each (suggestions), where two compressions per build would cost more than they save.
     * `contentVersion: true` reads the content version in the same round trip as the shared entry
     * and gives it to `build` (for the expansion of search words, expansion.ts).
     */
    async fetch(
      key: string,
      build: (seen: MissReads) => Promise<CachedEntry>,
      heldUnits: HeldUnits | undefined,
      options: { codedCopies?: boolean; contentVersion?: boolean } = {},
    ): Promise<{ entry: ReadyEntry; held: Map<string, number> | undefined }> {
      let known = local.get(key);
      if (known && known.expiresAt <= Date.now()) {
        local.delete(key);
        known = undefined;
      }
      let version: string | null;
      let entry: ReadyEntry | null = null;
      let held: Map<string, number> | undefined;
      // Read beside the shared entry when the build needs it: a miss then spends no trip on it.
      const readContent = () => (options.contentVersion ? readVersion(CONTENT_VERSION_KEY) : undefined);
      let seen: MissReads = {};
      if (known) {
        [version, held] = await versionAndHeld(known.ids, heldUnits);
        if (version === known.version) {
          localHits.inc();
          return { entry: known, held };
        }
        local.delete(key);
        if (version !== null) {
          const [raw, contentVersion] = await Promise.all([cache.get(LAYOUT + key), readContent()]);
          entry = decode(key, version, raw);
          seen = { contentVersion };
        }
      } else {
        const [v, raw, contentVersion] = await Promise.all([readVersion(VERSION_KEY), cache.get(LAYOUT + key), readContent()]);
        version = v;
        if (version !== null) entry = decode(key, version, raw);
        seen = { contentVersion };
      }
      if (!entry) {
        const built = await build(seen);
        if (version === null) entry = ready('', 0, { ...built, br: '', gzip: '' }, minBytes);
        else {
          const stored = options.codedCopies === false ? { ...built, br: '', gzip: '' } : await withCopies(built, minBytes);
          // Not waited for: the answer is ready, and this process already holds it (remember,
          // below). Another process asking before the write lands builds it too (a miss, as
          // before the first build); an entry landing late is stamped with its version, so it is
          // never served past a change. A failed write is dropped (platform/cache.ts).
          void cache.set(LAYOUT + key, `${version}\n${stored.header}\n${stored.br}\n${stored.gzip}\n${stored.body}`, ttl);
          entry = ready(version, Date.now() + ttl * 1000, stored, minBytes);
          remember(key, entry);
        }
      }
      if (!held || !known || !sameIds(known.ids, entry.ids)) held = entry.ids.length > 0 ? await heldUnits?.(entry.ids) : undefined;
      return { entry, held };
    },

    /** The cached count of a filter set, valid for the current content version (see `derived`). */
    count: (filterKey: string, compute: () => Promise<number>): Promise<number> => derived('count', filterKey, compute),

    /**
     * The cached facets of a filter set: the same key, freshness and invalidation as the count —
     * both are computed over every match, so both are answered from the cache after a filter set's
     * first request until the content version moves (any staff change) or 60 s pass.
     */
    facets: <T>(filterKey: string, compute: () => Promise<T>): Promise<T> => derived('facets', filterKey, compute),

    /** The content version (moves on staff changes only), or null when the store cannot say. */
    contentVersion: (): Promise<string | null> => readVersion(CONTENT_VERSION_KEY),

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
      const lsn = await currentLsn();
      // Sent together, in this order, on one connection (one round trip): the position is recorded
      // before the version moves, so a miss that sees the new version finds the new position.
      await Promise.all([lsn === undefined ? undefined : kv.set(LSN_KEY, lsn), kv.incr(VERSION_KEY), options.content ? kv.incr(CONTENT_VERSION_KEY) : undefined]);
    },
  };
}

export type CatalogCache = ReturnType<typeof createCatalogCache>;
