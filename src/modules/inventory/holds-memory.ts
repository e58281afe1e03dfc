/**
 * In-process hold store for the embedded default (one process, so plain Maps are atomic per call).
 * Same rules as the Redis scripts; expired holds are ignored on read, pruned on every touch of a
 * product and swept periodically so memory stays bounded.
 */
import type { HoldLine, HoldResult, HoldShort, HoldStore, Holding, SetHoldsOptions, SpentLine, StockMirror } from './holds.ts';
import type { StockedProduct } from './stock.ts';
import { DEFAULT_MIRROR_MAX_AGE_MS, mergeHoldLines } from './holds.ts';

interface ProductState {
  stock: number;
  version: number;
  /** When the mirror was last confirmed against the database (epoch ms); 0: never (holds only). */
  at: number;
  /** holder → units and expiry (epoch ms). */
  holds: Map<string, { units: number; expiresAt: number }>;
}

interface HolderState {
  lines: Map<string, number>;
  expiresAt: number;
  /** When its first hold was set (epoch ms): what `maxLifetimeSeconds` counts from. */
  since: number;
}

export function createMemoryHoldStore(now: () => number = Date.now): HoldStore {
  const productStates = new Map<string, ProductState>();
  const holders = new Map<string, HolderState>();

  const liveHolder = (holder: string, t: number): HolderState | undefined => {
    const state = holders.get(holder);
    if (state && state.expiresAt < t) {
      holders.delete(holder);
      return undefined;
    }
    return state;
  };
  const product = (id: string, t: number): ProductState | undefined => {
    const state = productStates.get(id);
    if (state) for (const [h, hold] of state.holds) if (hold.expiresAt < t) state.holds.delete(h);
    return state;
  };
  const heldBy = (state: ProductState | undefined, exclude?: string): number => {
    let sum = 0;
    if (state) for (const [h, hold] of state.holds) if (h !== exclude) sum += hold.units;
    return sum;
  };
  // As the Redis script: forward only, and the confirmation time renewed either way.
  const advanceMirror = (id: string, stock: number, version: number) => {
    const state = productStates.get(id);
    if (!state) productStates.set(id, { stock, version, at: now(), holds: new Map() });
    else if (state.version < version) Object.assign(state, { stock, version, at: now() });
    else state.at = now();
  };
  const dropHold = (holder: string, id: string) => {
    productStates.get(id)?.holds.delete(holder);
    holders.get(holder)?.lines.delete(id);
  };

  const sweep = setInterval(() => {
    const t = now();
    for (const id of productStates.keys()) product(id, t);
    for (const holder of holders.keys()) liveHolder(holder, t);
  }, 30_000);
  sweep.unref();

  return {
    kind: 'memory',

    async setHolds(holder: string, rawLines: HoldLine[], ttlSeconds: number, options: SetHoldsOptions = {}): Promise<HoldResult> {
      const t = now();
      const lines = mergeHoldLines(rawLines);
      const current = liveHolder(holder, t);
      const maxAge = options.mirrorMaxAgeMs ?? DEFAULT_MIRROR_MAX_AGE_MS;
      const stale = lines.filter((l) => {
        if (l.version !== undefined || l.quantity <= (current?.lines.get(l.productId) ?? 0)) return false;
        const state = productStates.get(l.productId);
        return !state || state.at === 0 || t - state.at > maxAge;
      });
      if (stale.length > 0) return { ok: false, reason: 'stale', productIds: stale.map((l) => l.productId) };
      for (const line of lines) if (line.quantity > 0 && line.version !== undefined) advanceMirror(line.productId, line.stock ?? 0, line.version);

      const short: HoldShort[] = [];
      const next = new Map(current?.lines ?? []);
      for (const line of lines) {
        const state = product(line.productId, t);
        const own = state?.holds.get(holder)?.units ?? 0;
        const available = Math.max(0, (state?.stock ?? 0) - heldBy(state, holder));
        if (line.quantity > own && line.quantity > available) short.push({ productId: line.productId, requested: line.quantity, available });
        if (line.quantity > 0) next.set(line.productId, line.quantity);
        else next.delete(line.productId);
      }
      if (short.length > 0) return { ok: false, reason: 'insufficient', short };
      const total = [...next.values()].reduce((a, b) => a + b, 0);
      const before = [...(current?.lines.values() ?? [])].reduce((a, b) => a + b, 0);
      if (options.maxUnitsTotal !== undefined && total > options.maxUnitsTotal && total > before) {
        return { ok: false, reason: 'cap', limit: options.maxUnitsTotal, total };
      }

      // As the Redis script: a holder that held nothing starts now, and never outlives its lifetime.
      const since = current && current.lines.size > 0 ? current.since : t;
      const lifetimeMs = (options.maxLifetimeSeconds ?? 0) * 1000;
      const expiresAt = lifetimeMs > 0 ? Math.min(t + ttlSeconds * 1000, since + lifetimeMs) : t + ttlSeconds * 1000;
      for (const line of lines) if (line.quantity === 0) dropHold(holder, line.productId);
      for (const [id, units] of next) {
        const state = productStates.get(id);
        // A line the holder kept from before has its product state already; it cannot be missing.
        state?.holds.set(holder, { units, expiresAt });
      }
      if (next.size > 0) holders.set(holder, { lines: next, expiresAt, since });
      else holders.delete(holder);
      return { ok: true, expiresAt, lines: new Map(next) };
    },

    async holdsOf(holder: string): Promise<Holding> {
      const state = liveHolder(holder, now());
      return state ? { lines: new Map(state.lines), expiresAt: state.expiresAt } : { lines: new Map(), expiresAt: null };
    },

    async release(holder: string, productIds?: string[]) {
      const state = holders.get(holder);
      if (!state) return;
      for (const id of productIds ?? [...state.lines.keys()]) dropHold(holder, id);
      if (state.lines.size === 0) holders.delete(holder);
    },

    async commit(holder: string, mirrors: StockMirror[], spent?: SpentLine[]) {
      for (const mirror of mirrors) advanceMirror(mirror.productId, mirror.stock, mirror.version);
      const state = holders.get(holder);
      if (spent) {
        // As the Redis script's 'spend': only the units ordered go; what was added since stays.
        for (const { productId, quantity } of spent) {
          const left = (state?.lines.get(productId) ?? 0) - quantity;
          const hold = productStates.get(productId)?.holds.get(holder);
          if (left > 0 && state && hold) {
            state.lines.set(productId, left);
            hold.units = left;
          } else dropHold(holder, productId);
        }
        if (state && state.lines.size === 0) holders.delete(holder);
        return;
      }
      if (state) for (const id of [...state.lines.keys()]) dropHold(holder, id);
      holders.delete(holder);
    },

    async commitMany(holderList: string[], mirrors: StockMirror[]) {
      for (const mirror of mirrors) advanceMirror(mirror.productId, mirror.stock, mirror.version);
      for (const holder of holderList) {
        const state = holders.get(holder);
        if (state) for (const id of [...state.lines.keys()]) dropHold(holder, id);
        holders.delete(holder);
      }
    },

    // In-process: the mirror is this process's own; facts stay with product-facts.ts's memory.
    async writeProducts(products: StockedProduct[]) {
      for (const p of products) advanceMirror(p.id, p.stock, p.version);
    },

    async heldUnits(productIds: string[], excludeHolder?: string) {
      const t = now();
      return new Map(productIds.map((id) => [id, heldBy(product(id, t), excludeHolder)]));
    },

    async close() {
      clearInterval(sweep);
      productStates.clear();
      holders.clear();
    },
  };
}
