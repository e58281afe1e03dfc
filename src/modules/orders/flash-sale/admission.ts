/**
 * Flash-sale admission (ORDERS_MODE=async): one inventory step (inventory's admit) checks every line
 * against the stock mirror minus accepted units and others' live holds, takes the units and appends
 * the order, with its id fixed here, to the stream. The answer is then 202 `pending`; the worker
 * (worker.ts) writes it through the batching writer, whose locked rows stay the final word.
 *
 * No PostgreSQL on this path: every staff write of a product writes its mirror and its name,
 * price and archived flag through to Redis (inventory), so names and prices come from inventory's
 * product facts (remembered per process by content version; from Redis while PostgreSQL is down)
 * and stock from the mirror, from the first order on. A mirror found missing (a Redis restarted
 * empty) is loaded by inventory once for all concurrent callers, then admitted. One still missing
 * after that (a product the database does not know, though its facts were found; a key evicted
 * again at once) is refused with 503, nothing changed: there is no second path to place it by.
 *
 * Idempotency-Key: the key's record lives in Redis beside the order (same step), kept as long as
 * the database keeps keys; a replay answers the order's current status.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../../../platform/kv.ts';
import { AppError } from '../../../platform/errors.ts';
import { newId } from '../../../platform/ids.ts';
import type { InventoryService, StockLine } from '../../inventory/service.ts';
import { pendingOfKey, recordKey, STREAM, type AcceptedEntry } from './stream.ts';
import type { PendingLookup } from '../read.ts';
import { presentOrder, type OrderJson } from '../schemas.ts';

export type Admission =
  | { kind: 'accepted'; body: OrderJson }
  /** The key was used before, with this request: that order, answered with `status` again. */
  | { kind: 'replay'; orderId: string; status: number };

export interface AdmitOptions {
  /** Cart checkout: the cart whose holds convert into the order. */
  holder?: string | undefined;
  idempotency?: { key: string; hash: string } | undefined;
}

const idemKey = (customerId: string, key: string) => `orders:idem:${createHash('sha256').update(`${customerId}\n${key}`).digest('hex')}`;

/** Redis is the only record of an accepted order: without it, refuse cleanly rather than guess. */
async function redisOrUnavailable<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('unavailable', 'Orders cannot be accepted right now; nothing was ordered, try again', {
      dependency: 'redis',
      cause: error,
      headers: { 'retry-after': '1' },
    });
  }
}


const unreachable = Symbol('unreachable');
async function reachable<T>(fn: () => Promise<T>): Promise<T | typeof unreachable> {
  try {
    return await fn();
  } catch {
    return unreachable;
  }
}

type AdmissionInventory = Pick<InventoryService, 'facts' | 'normalizeLines' | 'insufficientStock'> & { accepted: NonNullable<InventoryService['accepted']> };

export function createAsyncAdmission(deps: { redis: RedisClient; inventory: AdmissionInventory; retentionSeconds: number }) {
  const { redis, inventory, retentionSeconds } = deps;
  const { facts } = inventory;

  /** "<hash>\n<order id>\n<status>" → the replay, or 422 when the key came with another request. */
  function verdict(stored: string, hash: string): Admission {
    const [storedHash, orderId, status] = stored.split('\n');
    if (storedHash !== hash) throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request');
    return { kind: 'replay', orderId: orderId!, status: Number(status) };
  }

  /** An earlier order under this key (checked before a checkout reads its cart), or undefined. */
  async function storedKey(customerId: string, idem: { key: string; hash: string }): Promise<Admission | undefined> {
    const stored = await redisOrUnavailable(() => redis.get(idemKey(customerId, idem.key)));
    return stored === null ? undefined : verdict(stored, idem.hash);
  }

  /** Names and server prices of every line, or 422 for an unknown or archived product. */
  async function priced(lines: StockLine[]) {
    const version = await redisOrUnavailable(() => facts.contentVersion());
    const found = await facts.get(lines.map((l) => l.productId), version);
    const unknown = lines.filter((l) => !found.get(l.productId) || found.get(l.productId)!.archived).map((l) => l.productId);
    if (unknown.length > 0) throw new AppError('unknown_product', `Unknown or archived product: ${unknown.join(', ')}`, { extra: { products: unknown } });
    return lines.map((l) => {
      const p = found.get(l.productId)!;
      return { productId: l.productId, name: p.name, unitPriceCents: p.priceCents, quantity: l.quantity, lineTotalCents: p.priceCents * l.quantity };
    });
  }

  async function admit(customerId: string, rawLines: StockLine[], options: AdmitOptions = {}): Promise<Admission> {
    const lines = await priced(inventory.normalizeLines(rawLines));
    const id = newId();
    const at = new Date();
    const body = presentOrder({
      id,
      customerId,
      status: 'pending',
      cancelReason: null,
      totalCents: lines.reduce((sum, l) => sum + l.lineTotalCents, 0),
      createdAt: at,
      lines,
    });
    const entry: AcceptedEntry = {
      id,
      customer: customerId,
      at: at.getTime(),
      lines: lines.map((l) => ({ product: l.productId, quantity: l.quantity, name: l.name, price_cents: l.unitPriceCents })),
    };
    const idem = options.idempotency;
    const reply = await redisOrUnavailable(() =>
      inventory.accepted.admit({
        holder: options.holder,
        lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
        orderId: id,
        keys: { stream: STREAM, record: recordKey(id), idempotency: idem ? idemKey(customerId, idem.key) : 'orders:idem:none', pendingOf: pendingOfKey(customerId) },
        requestHash: idem?.hash ?? '',
        record: JSON.stringify(body),
        entry: JSON.stringify(entry),
        retentionSeconds,
      }),
    );
    if (reply.kind === 'accepted') return { kind: 'accepted', body };
    if (reply.kind === 'seen') return verdict(reply.stored, idem!.hash);
    if (reply.kind === 'unmirrored') {
      throw new AppError('unavailable', 'Orders cannot be accepted right now; nothing was ordered, try again', { dependency: 'redis', headers: { 'retry-after': '1' } });
    }
    throw inventory.insufficientStock(reply.short, 'Not enough available stock for some items; nothing was ordered');
  }

  /**
   * The order while it is pending (accepted, not yet written): `none` once written (or unknown),
   * `unreachable` when Redis does not answer — then only the database can say more.
   */
  async function pendingOrder(orderId: string): Promise<PendingLookup<OrderJson>> {
    const stored = await reachable(() => redis.get(recordKey(orderId)));
    if (stored === unreachable) return { kind: 'unreachable' };
    return stored === null ? { kind: 'none' } : { kind: 'pending', value: JSON.parse(stored) as OrderJson };
  }

  /** The customer's pending orders, newest first (their history shows them before they are written). */
  async function pendingOf(customerId: string): Promise<PendingLookup<OrderJson[]>> {
    const ids = await reachable(() => redis.zrevrange(pendingOfKey(customerId), 0, -1));
    if (ids === unreachable) return { kind: 'unreachable' };
    if (ids.length === 0) return { kind: 'pending', value: [] };
    const records = await reachable(() => redis.mget(ids.map(recordKey)));
    if (records === unreachable) return { kind: 'unreachable' };
    return { kind: 'pending', value: records.flatMap((r) => (r === null ? [] : [JSON.parse(r) as OrderJson])) };
  }

  return { admit, storedKey, pendingOrder, pendingOf, shown: true };
}

export type AsyncAdmission = ReturnType<typeof createAsyncAdmission>;
