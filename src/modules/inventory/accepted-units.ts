/**
 * Units of orders accepted in flash-sale mode (ORDERS_MODE=async) and not yet written: inventory's
 * side of admission and settlement. Each is one script over the stock mirror (mirror-lua.ts) that
 * also covers the orders wing's keys, whose names the wing passes in, so taking the units and
 * appending the order (or acknowledging it and giving the units back) is one atomic step.
 */
import type { Db } from '../../platform/db.ts';
import type { RedisClient } from '../../platform/kv.ts';
import { holderKey, productKeys } from './holds-redis.ts';
import type { HoldShort, StockMirror } from './holds.ts';
import { ADMIT, MIRRORED, SETTLE } from './mirror-lua.ts';
import { readProducts, type StockLine } from './stock.ts';

/** The orders wing's keys and values an admission writes in the same step. */
export interface AdmitRequest {
  /** Cart checkout: the cart whose holds convert into the order. */
  holder?: string | undefined;
  /** Normalized lines (summed, in id order). */
  lines: StockLine[];
  orderId: string;
  /** Keys: the stream, the pending record, the idempotency key ('…:none' = no key), the customer's pending zset. */
  keys: { stream: string; record: string; idempotency: string; pendingOf: string };
  /** Request hash of the Idempotency-Key ('' = no key). */
  requestHash: string;
  record: string;
  entry: string;
  retentionSeconds: number;
}

export type AdmitReply =
  | { kind: 'accepted' }
  /** The key was used before: its stored value, nothing changed. */
  | { kind: 'seen'; stored: string }
  /** Products without a mirror: nothing changed. */
  | { kind: 'unmirrored'; productIds: string[] }
  | { kind: 'short'; short: HoldShort[] };

/** One accepted order the database now has (written, or found written by an earlier attempt). */
export interface SettledEntry {
  entryId: string;
  orderId: string;
  lines: StockLine[];
  /** The orders wing's keys the entry leaves: its pending record and its customer's pending zset. */
  record: string;
  pendingOf: string;
  /** What the write left its products at; empty: read the current figures. */
  committed: StockMirror[];
  /** Its stock did not move (a poison entry): leave those mirrors as they are. */
  leaveMirror?: boolean | undefined;
}

type Reply = Array<string | number>;
type Script = (numberOfKeys: number, ...args: Array<string | number>) => Promise<Reply>;

export function createAcceptedUnits(deps: {
  redis: RedisClient;
  primary: Db;
  /** Loads the mirrors (and facts) of `ids` from PostgreSQL, their accepted units from `stream`. */
  load: (stream: string, ids: string[]) => Promise<unknown>;
}) {
  const { redis } = deps;
  if (!('inventoryAdmit' in redis)) redis.defineCommand('inventoryAdmit', { lua: ADMIT });
  if (!('inventorySettle' in redis)) redis.defineCommand('inventorySettle', { lua: SETTLE });
  const r = redis as unknown as { inventoryAdmit: Script; inventorySettle: Script };

  /**
   * Mirrors being loaded, by product: a burst that finds a mirror missing (a Redis restarted
   * empty, a key evicted) loads it once, and every caller waits for that one load.
   */
  const loading = new Map<string, Promise<unknown>>();
  function loadOnce(stream: string, ids: string[]): Promise<unknown> {
    const fresh = ids.filter((id) => !loading.has(id));
    if (fresh.length > 0) {
      const load = deps.load(stream, fresh).finally(() => fresh.forEach((id) => loading.delete(id)));
      for (const id of fresh) loading.set(id, load);
    }
    return Promise.all(ids.map((id) => loading.get(id)));
  }

  /**
   * Admits the order. A product without a mirror is loaded (once, for all concurrent callers) and
   * the order admitted then; `unmirrored` only if it still has none (unknown to the database).
   */
  async function admit(req: AdmitRequest): Promise<AdmitReply> {
    const first = await admitOnce(req);
    if (first.kind !== 'unmirrored') return first;
    await loadOnce(req.keys.stream, first.productIds);
    return admitOnce(req);
  }

  async function admitOnce(req: AdmitRequest): Promise<AdmitReply> {
    const keys = [
      req.holder ? holderKey(req.holder) : 'hold:none',
      ...req.lines.flatMap((l) => productKeys(l.productId)),
      req.keys.stream,
      req.keys.record,
      req.keys.idempotency,
      MIRRORED,
      req.keys.pendingOf,
    ];
    const args = [req.holder ?? '', req.requestHash, req.orderId, req.record, req.entry, req.retentionSeconds, req.lines.length];
    const reply = await r.inventoryAdmit(keys.length, ...keys, ...args, ...req.lines.map((l) => l.productId), ...req.lines.map((l) => l.quantity));
    const code = Number(reply[0]);
    if (code === 1) return { kind: 'accepted' };
    if (code === 2) return { kind: 'seen', stored: String(reply[1]) };
    if (code === 3) return { kind: 'unmirrored', productIds: reply.slice(1).map(String) };
    const short: HoldShort[] = [];
    for (let i = 1; i < reply.length; i += 3) short.push({ productId: String(reply[i]), requested: Number(reply[i + 1]), available: Number(reply[i + 2]) });
    return { kind: 'short', short };
  }

  /**
   * One step in Redis for entries the database now has (see SETTLE): acknowledged in `group` of
   * `stream`, units out of the accepted count, mirrors moved to the committed stock. Returns how
   * many were still pending (the rest another consumer settled).
   */
  async function settle(stream: string, group: string, done: SettledEntry[]): Promise<number> {
    const figures = new Map<string, StockMirror>();
    for (const { committed } of done) {
      for (const m of committed) if ((figures.get(m.productId)?.version ?? -1) < m.version) figures.set(m.productId, m);
    }
    const ids = [...new Set(done.flatMap(({ lines }) => lines.map((l) => l.productId)))];
    // Orders an earlier attempt wrote left no figures: read the current ones, or the mirror would
    // keep the stock from before them once their units leave the accepted count.
    // A poison entry's lines may name no product at all: leave those mirrors (its stock did not move).
    const unknown = [...new Set(done.flatMap(({ lines, leaveMirror }) => (leaveMirror ? [] : lines.map((l) => l.productId))))].filter((id) => !figures.has(id));
    if (unknown.length > 0) for (const [id, p] of await readProducts(deps.primary, unknown)) figures.set(id, { productId: id, stock: p.stock, version: p.version });
    const index = new Map(ids.map((id, i) => [id, i + 1]));
    const keys = [stream, ...ids.flatMap(productKeys), ...done.map((e) => e.record), ...done.map((e) => e.pendingOf)];
    const args: Array<string | number> = [group, ids.length, done.length];
    for (const id of ids) args.push(figures.get(id)?.stock ?? '', figures.get(id)?.version ?? '');
    for (const e of done) args.push(e.entryId, e.lines.map((l) => `${index.get(l.productId)}:${l.quantity}`).join(','), e.orderId);
    return Number(await r.inventorySettle(keys.length, ...keys, ...args));
  }

  return { admit, settle };
}

export type AcceptedUnits = ReturnType<typeof createAcceptedUnits>;
