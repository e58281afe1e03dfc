/**
 * Names, current prices and the archived flag of products, for the cart's answers, without a
 * database read on the hot path.
 *
 * Each process remembers what it read from the primary, stamped with the catalog's content
 * version (cache.ts: `catalog:content-version`, moved after every staff change of a product or
 * category, never by orders). A remembered fact is used only while that version is still the
 * current one; the caller reads the version in the same Redis round trip as its hold script
 * (commands of one turn leave together, platform/kv.ts). So a name or price served from here is
 * never older than the last staff change already answered, exactly like a cached catalog page.
 * Stock is not taken from here: holds use the hold store's mirror, orders the locked rows.
 *
 * PostgreSQL unreachable: the facts written through to Redis beside the mirror (holds-lua.ts
 * WRITE_PRODUCTS, by every staff change of a product) answer instead, so a process that never
 * read a product can still admit it in flash-sale mode while the database is down.
 */
import type { Db } from '../../platform/db.ts';
import type { KeyValueStore } from '../../platform/kv.ts';
import { createProductReader } from './reservations.ts';
import type { StockedProduct } from './stock.ts';

const CONTENT_VERSION_KEY = 'catalog:content-version';
/** Products remembered per process; a bound on memory, not on staleness (the version is). */
const REMEMBERED = 20_000;

export interface ProductFacts {
  /** The current content version; 'none' while no staff change was ever recorded. Throws if the store is down. */
  contentVersion(): Promise<string>;
  /** Facts of `ids` valid at `version`: remembered ones, the rest read from the primary (absent: unknown). */
  get(ids: string[], version: string): Promise<Map<string, StockedProduct>>;
  /** Reads `ids` from the primary (stock and version included), remembering them at `version`. */
  read(ids: string[], version: string | null): Promise<Map<string, StockedProduct>>;
}

export function createProductFacts(deps: {
  primary: Db;
  kv: KeyValueStore;
  /** The facts Redis keeps beside the mirror (absent in-process). */
  mirrored?: ((ids: string[]) => Promise<Map<string, StockedProduct>>) | undefined;
}): ProductFacts {
  const readProducts = createProductReader(deps.primary);
  const remembered = new Map<string, { version: string; facts: StockedProduct }>();

  const remember = (id: string, version: string, facts: StockedProduct) => {
    remembered.delete(id);
    remembered.set(id, { version, facts });
    // Oldest first out: Map keeps insertion order.
    if (remembered.size > REMEMBERED) remembered.delete(remembered.keys().next().value!);
  };

  async function read(ids: string[], version: string | null) {
    const found = await readProducts(ids);
    const mine = new Map<string, StockedProduct>();
    for (const id of ids) {
      const facts = found.get(id);
      if (!facts) continue;
      mine.set(id, facts);
      if (version !== null) remember(id, version, facts);
    }
    return mine;
  }

  /** From the primary; while it cannot be read, from Redis's written-through facts (all of them, or the error). */
  async function readOrMirrored(ids: string[], version: string) {
    try {
      return await read(ids, version);
    } catch (error) {
      const mirrored = deps.mirrored ? await deps.mirrored(ids).catch(() => new Map<string, StockedProduct>()) : new Map<string, StockedProduct>();
      if (ids.some((id) => !mirrored.has(id))) throw error;
      for (const [id, facts] of mirrored) remember(id, version, facts);
      return mirrored;
    }
  }

  return {
    contentVersion: async () => (await deps.kv.get(CONTENT_VERSION_KEY)) ?? 'none',
    async get(ids, version) {
      const out = new Map<string, StockedProduct>();
      const missing: string[] = [];
      for (const id of ids) {
        const seen = remembered.get(id);
        if (seen && seen.version === version) out.set(id, seen.facts);
        else missing.push(id);
      }
      if (missing.length > 0) for (const [id, facts] of await readOrMirrored(missing, version)) out.set(id, facts);
      return out;
    },
    read,
  };
}
