/**
 * Redis hold store: every change is one Lua script (holds-lua.ts), so a request's lines are checked
 * and held in one atomic step across all processes. Errors (Redis down) propagate: the cart turns
 * them into 503, direct orders fall back on the database guard.
 *
 * The catalog's read of held units (every page) takes no script: the scripts keep, per product, a
 * summary of its units held and its earliest hold expiry, and a page reads those with one MGET.
 * A summary whose earliest hold has expired since is stale (its units include expired ones): only
 * those products go through the pruning script, which renews them for every later reader. A
 * summary is deleted once nothing is held: by the script that frees the last units, or by the
 * first read after they expired.
 */
import type { HoldLine, HoldResult, HoldShort, HoldStore, Holding, SetHoldsOptions, SpentLine, StockMirror } from './holds.ts';
import { DEFAULT_MIRROR_MAX_AGE_MS, mergeHoldLines } from './holds.ts';
import { batchedMget, type RedisClient } from '../../platform/kv.ts';
import { COMMIT_MANY, HELD_UNITS, HOLDS_OF, RELEASE, SET_HOLDS, WRITE_PRODUCTS } from './holds-lua.ts';
import type { StockedProduct } from './stock.ts';

type Reply = Array<string | number>;
type Script = (numberOfKeys: number, ...args: Array<string | number>) => Promise<Reply>;

interface HoldCommands {
  holdsSet: Script;
  holdsCommitMany: Script;
  holdsRelease: Script;
  holdsHeld: Script;
  holdsOf: Script;
  holdsWriteProducts: Script;
}

export const holderKey = (holder: string) => `hold:c:${holder}`;
/** When the holder's first hold was set (SET_HOLDS with a lifetime); expires with its holds. */
const sinceKey = (holder: string) => `hold:s:${holder}`;
const summaryKey = (id: string) => `hold:t:${id}`;
/**
 * The distinct ids of a list and their summary keys, kept per list: a cached page asks with the
 * same (never changed) array on every hit, so they are built once per page, not per request.
 */
const lookups = new WeakMap<string[], { ids: string[]; keys: string[] }>();
const lookupOf = (productIds: string[]) => {
  let lookup = lookups.get(productIds);
  if (!lookup) {
    const ids = [...new Set(productIds)];
    lookups.set(productIds, (lookup = { ids, keys: ids.map(summaryKey) }));
  }
  return lookup;
};
export const productKeys = (id: string) => [`hold:p:${id}`, `hold:e:${id}`, summaryKey(id)];

/** A holder whose lines changed between our read and the script can only race a few times. */
const MAX_ATTEMPTS = 5;

export function createRedisHoldStore(redis: RedisClient): HoldStore {
  const commands: Array<[keyof HoldCommands, string]> = [
    ['holdsSet', SET_HOLDS],
    ['holdsCommitMany', COMMIT_MANY],
    ['holdsRelease', RELEASE],
    ['holdsHeld', HELD_UNITS],
    ['holdsOf', HOLDS_OF],
    ['holdsWriteProducts', WRITE_PRODUCTS],
  ];
  // defineCommand is per client; a client shared with another store defines them once.
  for (const [name, lua] of commands) {
    if (!(name in redis)) redis.defineCommand(name, { lua });
  }
  const r = redis as unknown as HoldCommands;

  const keysFor = (holder: string, ids: string[]) => [holderKey(holder), ...ids.flatMap(productKeys)];

  /** Runs a script whose key set must cover the holder's products, retrying with the ones it names. */
  async function coveringHolder(holder: string, firstIds: string[], run: (ids: string[]) => Promise<Reply>): Promise<Reply> {
    let ids = firstIds;
    for (let attempt = 1; ; attempt++) {
      const reply = await run(ids);
      if (Number(reply[0]) !== -1) return reply;
      if (attempt >= MAX_ATTEMPTS) throw new Error(`hold store: holder ${holder} kept changing`);
      ids = [...ids, ...reply.slice(1).map(String).filter((id) => !ids.includes(id))];
    }
  }

  /** Held units through the script, which prunes expired holds (and renews their summaries). */
  async function pruned(ids: string[], excludeHolder = ''): Promise<Map<string, number>> {
    const keys = ['hold:none', ...ids.flatMap(productKeys)];
    const reply = await r.holdsHeld(keys.length, ...keys, excludeHolder);
    return new Map(ids.map((id, i) => [id, Number(reply[i])]));
  }

  /**
   * Held units from the summaries ("<units>:<earliest expiry>"; none = nothing held). Those whose
   * earliest hold has expired go through the script. This process's clock only decides which
   * summaries to re-read: one running behind Redis's counts an expired hold a moment longer
   * (under-promising), one running ahead merely asks the script early.
   */
  async function fromSummaries(ids: string[], summaries: Array<string | null>): Promise<Map<string, number>> {
    const held = new Map<string, number>();
    const stale: string[] = [];
    const now = Date.now();
    for (const [i, id] of ids.entries()) {
      const summary = summaries[i];
      const at = summary ? summary.indexOf(':') : -1;
      if (summary && Number(summary.slice(at + 1)) < now) stale.push(id);
      held.set(id, summary ? Number(summary.slice(0, at)) : 0);
    }
    if (stale.length > 0) for (const [id, units] of await pruned(stale)) held.set(id, units);
    return held;
  }

  return {
    kind: 'redis',

    async setHolds(holder: string, rawLines: HoldLine[], ttlSeconds: number, options: SetHoldsOptions = {}): Promise<HoldResult> {
      const lines = mergeHoldLines(rawLines);
      const lineIds = lines.map((l) => l.productId);
      const lineArgs = lines.flatMap((l) => [l.quantity, l.stock ?? '', l.version ?? '']);
      const hinted = [...lineIds, ...(options.knownProducts ?? []).filter((id) => !lineIds.includes(id))];
      const maxAge = options.mirrorMaxAgeMs ?? DEFAULT_MIRROR_MAX_AGE_MS;
      const lifetimeMs = (options.maxLifetimeSeconds ?? 0) * 1000;
      const reply = await coveringHolder(holder, hinted, (ids) => {
        const keys = keysFor(holder, ids);
        if (lifetimeMs > 0) keys.push(sinceKey(holder));
        return r.holdsSet(keys.length, ...keys, holder, ttlSeconds * 1000, options.maxUnitsTotal ?? -1, lines.length, maxAge, lifetimeMs, ...ids, ...lineArgs);
      });
      const code = Number(reply[0]);
      if (code === 1) {
        const held = new Map<string, number>();
        for (let i = 2; i < reply.length; i += 2) held.set(String(reply[i]), Number(reply[i + 1]));
        return { ok: true, expiresAt: Number(reply[1]), lines: held };
      }
      if (code === 3) return { ok: false, reason: 'stale', productIds: reply.slice(1).map(String) };
      if (code === 2) return { ok: false, reason: 'cap', limit: Number(reply[1]), total: Number(reply[2]) };
      const short: HoldShort[] = [];
      for (let i = 1; i < reply.length; i += 3) {
        short.push({ productId: String(reply[i]), requested: Number(reply[i + 1]), available: Number(reply[i + 2]) });
      }
      return { ok: false, reason: 'insufficient', short };
    },

    async holdsOf(holder: string): Promise<Holding> {
      const reply = await r.holdsOf(1, holderKey(holder));
      const lines = new Map<string, number>();
      for (let i = 1; i < reply.length; i += 2) lines.set(String(reply[i]), Number(reply[i + 1]));
      const expiresAt = Number(reply[0]);
      return { lines, expiresAt: lines.size > 0 && expiresAt > 0 ? expiresAt : null };
    },

    async release(holder: string, productIds?: string[]) {
      const run = (mode: 'all' | 'some', ids: string[]) => {
        const keys = keysFor(holder, ids);
        return r.holdsRelease(keys.length, ...keys, holder, mode, ...ids, ...ids.flatMap(() => ['', '']));
      };
      if (productIds) await run('some', productIds);
      else await coveringHolder(holder, [], (ids) => run('all', ids));
    },

    async commit(holder: string, mirrors: StockMirror[], spent?: SpentLine[]) {
      const byId = new Map(mirrors.map((m) => [m.productId, m]));
      if (spent) {
        // Only the lines (and units) ordered: no covering of the holder's other products needed.
        const units = new Map<string, number>();
        for (const l of spent) units.set(l.productId, (units.get(l.productId) ?? 0) + l.quantity);
        const ids = [...new Set([...units.keys(), ...byId.keys()])];
        const keys = keysFor(holder, ids);
        const mirrorArgs = ids.flatMap((id): Array<string | number> => {
          const m = byId.get(id);
          return m ? [m.stock, m.version] : ['', ''];
        });
        await r.holdsRelease(keys.length, ...keys, holder, 'spend', ...ids, ...mirrorArgs, ...ids.map((id) => units.get(id) ?? 0));
        return;
      }
      await coveringHolder(holder, [...byId.keys()], (ids) => {
        const keys = keysFor(holder, ids);
        const mirrorArgs = ids.flatMap((id): Array<string | number> => {
          const m = byId.get(id);
          return m ? [m.stock, m.version] : ['', ''];
        });
        return r.holdsRelease(keys.length, ...keys, holder, 'all', ...ids, ...mirrorArgs);
      });
    },

    async commitMany(holders: string[], mirrors: StockMirror[], productIds: string[] = []) {
      const byId = new Map(mirrors.map((m) => [m.productId, m]));
      const ids = [...new Set([...byId.keys(), ...productIds])];
      if (ids.length === 0 && holders.length === 0) return;
      const keys = ['hold:none', ...ids.flatMap(productKeys), ...holders.map(holderKey)];
      const figures = ids.flatMap((id): Array<string | number> => {
        const m = byId.get(id);
        return m ? [m.stock, m.version] : ['', ''];
      });
      await r.holdsCommitMany(keys.length, ...keys, ids.length, holders.length, ...ids, ...figures, ...holders);
    },

    async writeProducts(products: StockedProduct[]) {
      if (products.length === 0) return;
      const keys = ['hold:none', ...products.flatMap((p) => productKeys(p.id))];
      const args = products.flatMap((p) => [p.stock, p.version, p.name, p.priceCents, p.archived ? 1 : 0]);
      await r.holdsWriteProducts(keys.length, ...keys, ...args);
    },

    // One HMGET per product, sent together (commands of one turn leave as one write; one slot each on a cluster).
    async mirroredProducts(ids: string[]) {
      const unique = [...new Set(ids)];
      const rows = await Promise.all(unique.map((id) => redis.hmget(productKeys(id)[0]!, 's', 'v', 'n', 'c', 'x')));
      const found = new Map<string, StockedProduct>();
      unique.forEach((id, i) => {
        const [stock, version, name, price, archived] = rows[i]!;
        if (stock == null || version == null || name == null || price == null || archived == null) return;
        found.set(id, { id, name, priceCents: Number(price), stock: Number(stock), version: Number(version), archived: archived === '1' });
      });
      return found;
    },

    async heldUnits(productIds: string[], excludeHolder?: string) {
      const { ids, keys } = lookupOf(productIds);
      if (ids.length === 0) return new Map();
      // A holder's own units are not in the summaries: that read needs the script.
      if (excludeHolder) return pruned(ids, excludeHolder);
      return fromSummaries(ids, await batchedMget(redis, keys));
    },

    // The counter key goes through this same client, so it names the same key (same prefix) as the
    // key-value store's `get(counterKey)` does.
    async heldUnitsWithCounter(productIds: string[], counterKey: string) {
      const { ids, keys } = lookupOf(productIds);
      const [counter, ...summaries] = await batchedMget(redis, [counterKey, ...keys]);
      const held = await fromSummaries(ids, summaries);
      // A missing counter (fresh store) is started, as its other readers do.
      return { counter: counter ?? String(await redis.incr(counterKey)), held };
    },

    // The client belongs to the platform (shared with the cache); it closes it.
    async close() {},
  };
}
