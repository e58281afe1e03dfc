/**
 * The decisions of one batch, without I/O: given the rows the batch locked (products, idempotency
 * keys) and the orders that already exist under the batch's ids, decides every request in arrival
 * order (invariants 1, 2, 5, 6). Each order is all or nothing against the stock left by the orders
 * before it; a short or unknown one is refused alone while the rest go on. Prices and names are
 * the locked rows' own. Kept pure so the rules are tested directly (batch-writer.test.ts).
 */
import { AppError } from '../../platform/errors.ts';
import type { StockedProduct, StockLine } from '../inventory/service.ts';
import { keyId, type LockedKey } from './idempotency.ts';
import type { KeyDone, OutboxRecord } from './repo.ts';
import { presentOrder, type OrderJson } from './schemas.ts';
import type { Order, OrderLine } from './tables.ts';

export interface WriteRequest {
  /** Fixed by the caller (a flash-sale stream entry): if it exists already, nothing is taken. */
  orderId?: string | undefined;
  customerId: string;
  lines: StockLine[];
  /**
   * `hash` identifies the request the key came with; `leaseToken` is set when the caller already
   * claimed the key (idempotency.ts withIdempotency, the cart's checkout).
   */
  idempotency?: { key: string; hash: string; leaseToken?: string | undefined } | undefined;
  /** 'record_cancelled': a short order is written `cancelled` (`out_of_stock`) instead of refused. */
  onShort?: 'refuse' | 'record_cancelled' | undefined;
  /**
   * An order accepted in flash-sale mode (orders/flash-sale/): it keeps the time and the names and
   * prices it was accepted with (the customer was told them in the 202), confirms as
   * `order.confirmed`, and a product archived since is a cancellation like a shortage.
   */
  accepted?: { at: Date; lines: Array<{ productId: string; name: string; unitPriceCents: number }> } | undefined;
}

/** What `place` resolves to; it never rejects. */
export type WriteOutcome =
  /** Written by this call (confirmed, or cancelled out_of_stock); `stock`: what it left each product at. */
  | { kind: 'written'; order: Order; body: OrderJson; stock: Array<{ productId: string; stock: number; version: number }> }
  /** `orderId` was already an order: nothing was taken, this is that order. */
  | { kind: 'existing'; order: Order; body: OrderJson }
  /** The key's earlier response (earlier in this batch or before), to send again as is. */
  | { kind: 'replayed'; status: number; body: unknown }
  /** insufficient_stock, unknown_product, idempotency_key_reused, idempotency_key_in_progress, unavailable. */
  | { kind: 'refused'; error: AppError };

/** A request as queued: its id is fixed before the first attempt, so a retried batch finds its own orders. */
export interface Entry {
  id: string;
  /** The caller chose the id (an existing order under it is reported as `existing`). */
  assigned: boolean;
  req: WriteRequest;
}

export interface BatchState {
  products: Map<string, StockedProduct>;
  /** Sums repeated products and sorts by id (inventory's rule). */
  normalize: (lines: StockLine[]) => StockLine[];
  keys: Map<string, LockedKey>;
  existing: Map<string, Order>;
  /** Lease token of the key rows this batch inserted itself. */
  batchToken: string;
  now: Date;
}

export interface BatchPlan {
  /** Per entry, same order; `written` ones get their `stock` filled in after the update. */
  outcomes: WriteOutcome[];
  orders: Order[];
  outbox: OutboxRecord[];
  take: StockLine[];
  keysDone: KeyDone[];
  dropKeys: Array<{ customerId: string; key: string }>;
}

const refused = (error: AppError): WriteOutcome => ({ kind: 'refused', error });
const reused = () => refused(new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request'));

/** Why a request's key stops it here, or the earlier answer to replay; undefined: go on. */
function keyVerdict(req: WriteRequest, state: BatchState, settled: Map<string, KeyDone>): WriteOutcome | undefined {
  const idem = req.idempotency;
  if (!idem) return undefined;
  const id = keyId(req.customerId, idem.key);
  const inBatch = settled.get(id);
  if (inBatch) return inBatch.requestHash === idem.hash ? { kind: 'replayed', status: inBatch.status, body: inBatch.body } : reused();
  const row = state.keys.get(id);
  if (!row || row.leaseToken === state.batchToken || row.lapsed) return undefined;
  if (row.status === 'done') {
    return row.requestHash === idem.hash ? { kind: 'replayed', status: row.responseStatus ?? 200, body: row.responseBody } : reused();
  }
  if (row.leaseToken !== idem.leaseToken) {
    return refused(new AppError('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed'));
  }
  return row.requestHash === idem.hash ? undefined : reused();
}

type StockVerdict = { ok: true; lines: OrderLine[] } | { ok: false; short: boolean; error: AppError; lines: OrderLine[] };

/** Checks every line against what is left; takes nothing. */
function stockVerdict(lines: StockLine[], state: BatchState, left: Map<string, number>): StockVerdict {
  const normalized = state.normalize(lines);
  const unknown = normalized.filter((l) => !state.products.get(l.productId) || state.products.get(l.productId)!.archived).map((l) => l.productId);
  if (unknown.length > 0) {
    const error = new AppError('unknown_product', `Unknown or archived product: ${unknown.join(', ')}`, { extra: { products: unknown } });
    return { ok: false, short: false, error, lines: [] };
  }
  const orderLines = normalized.map((l) => {
    const p = state.products.get(l.productId)!;
    return { productId: l.productId, name: p.name, unitPriceCents: p.priceCents, quantity: l.quantity, lineTotalCents: p.priceCents * l.quantity };
  });
  const short = normalized
    .map((l) => ({ product: l.productId, requested: l.quantity, available: left.get(l.productId)! }))
    .filter((i) => i.available < i.requested);
  if (short.length === 0) return { ok: true, lines: orderLines };
  const error = new AppError('insufficient_stock', 'Not enough stock for some items; nothing was ordered', { extra: { items: short } });
  return { ok: false, short: true, error, lines: orderLines };
}

function outboxOf(order: Order, accepted: boolean): OutboxRecord {
  if (order.status === 'cancelled') {
    return { topic: 'order.cancelled', payload: { order_id: order.id, customer_id: order.customerId, reason: order.cancelReason } };
  }
  return {
    topic: accepted ? 'order.confirmed' : 'order.created',
    payload: {
      order_id: order.id,
      customer_id: order.customerId,
      total_cents: order.totalCents,
      lines: order.lines.map((l) => ({ product_id: l.productId, quantity: l.quantity, unit_price_cents: l.unitPriceCents })),
    },
  };
}

/** An accepted order's lines carry the names and prices it was accepted with; an unknown product is a shortage. */
function asAccepted(req: WriteRequest, verdict: StockVerdict, state: BatchState): StockVerdict {
  if (!req.accepted) return verdict;
  const lines = req.accepted.lines.map((a) => {
    const quantity = state.normalize(req.lines).find((l) => l.productId === a.productId)?.quantity ?? 0;
    return { productId: a.productId, name: a.name, unitPriceCents: a.unitPriceCents, quantity, lineTotalCents: a.unitPriceCents * quantity };
  });
  return verdict.ok ? { ok: true, lines } : { ok: false, short: true, error: verdict.error, lines };
}

export function decideBatch(entries: Entry[], state: BatchState): BatchPlan {
  const plan: BatchPlan = { outcomes: [], orders: [], outbox: [], take: [], keysDone: [], dropKeys: [] };
  const left = new Map([...state.products].map(([id, p]) => [id, p.stock]));
  const settled = new Map<string, KeyDone>();
  const decided = new Map<string, Order>();
  for (const { id, assigned, req } of entries) {
    const prior = state.existing.get(id) ?? decided.get(id);
    if (prior) {
      // An id the caller fixed names that order; one of ours means our earlier attempt committed.
      plan.outcomes.push(assigned ? { kind: 'existing', order: prior, body: presentOrder(prior) } : { kind: 'written', order: prior, body: presentOrder(prior), stock: [] });
      continue;
    }
    const byKey = keyVerdict(req, state, settled);
    if (byKey) {
      plan.outcomes.push(byKey);
      continue;
    }
    const verdict = asAccepted(req, stockVerdict(req.lines, state, left), state);
    if (!verdict.ok && !(verdict.short && req.onShort === 'record_cancelled')) {
      plan.outcomes.push(refused(verdict.error));
      continue;
    }
    const order: Order = {
      id,
      customerId: req.customerId,
      status: verdict.ok ? 'confirmed' : 'cancelled',
      cancelReason: verdict.ok ? null : 'out_of_stock',
      totalCents: verdict.lines.reduce((sum, l) => sum + l.lineTotalCents, 0),
      createdAt: req.accepted?.at ?? state.now,
      lines: verdict.lines,
    };
    if (verdict.ok) {
      for (const l of verdict.lines) left.set(l.productId, left.get(l.productId)! - l.quantity);
      plan.take.push(...verdict.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })));
    }
    const body = presentOrder(order);
    decided.set(id, order);
    plan.orders.push(order);
    plan.outbox.push(outboxOf(order, req.accepted !== undefined));
    plan.outcomes.push({ kind: 'written', order, body, stock: [] });
    if (req.idempotency) {
      const done = { customerId: req.customerId, key: req.idempotency.key, requestHash: req.idempotency.hash, status: 201, body };
      settled.set(keyId(req.customerId, req.idempotency.key), done);
      plan.keysDone.push(done);
    }
  }
  // A claim this batch made for a request it did not write is let go: a refused request keeps no key.
  for (const [id, row] of state.keys) {
    if (row.leaseToken === state.batchToken && !settled.has(id)) plan.dropKeys.push({ customerId: row.customerId, key: row.key });
  }
  return plan;
}
