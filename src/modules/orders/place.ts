/**
 * Placing an order (invariants 1, 2, 5, 6): one transaction on the primary that takes every line
 * through the catalog's conditional stock update (product-id order), prices and names read back
 * from that same update, then writes the order, its lines and its outbox record. Any short or
 * unknown line throws, which rolls everything back.
 */
import type { Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import { normalizeLines, type StockLine, type TakenProduct, type TakeStock, type TakeStockResult } from '../catalog/stock.ts';
import type { CompleteKey } from './idempotency.ts';
import { insertOrder } from './repo.ts';
import { presentOrder, type OrderJson } from './schemas.ts';
import type { Order, OrderLine } from './tables.ts';

export async function placeInTransaction(
  tx: Db,
  takeStock: TakeStock,
  customerId: string,
  lines: StockLine[],
  complete: CompleteKey,
): Promise<{ order: Order; body: OrderJson; taken: TakenProduct[] }> {
  const normalized = normalizeLines(lines);
  const taken = await takeStock(tx, normalized);
  if (!taken.ok) throw stockRefusal(taken);
  const byId = new Map(taken.products.map((p) => [p.id, p]));
  const orderLines: OrderLine[] = normalized.map((line) => {
    const product = byId.get(line.productId)!;
    return {
      productId: line.productId,
      name: product.name,
      unitPriceCents: product.priceCents,
      quantity: line.quantity,
      lineTotalCents: product.priceCents * line.quantity,
    };
  });
  const draft = {
    id: newId(),
    customerId,
    status: 'confirmed' as const,
    totalCents: orderLines.reduce((sum, l) => sum + l.lineTotalCents, 0),
    lines: orderLines,
  };
  const createdAt = await insertOrder(tx, draft, outboxPayload(draft));
  const order: Order = { ...draft, createdAt, cancelReason: null };
  const body = presentOrder(order);
  await complete(tx, { status: 201, body });
  return { order, body, taken: taken.products };
}

function outboxPayload(order: Omit<Order, 'createdAt' | 'cancelReason'>) {
  return {
    order_id: order.id,
    customer_id: order.customerId,
    total_cents: order.totalCents,
    lines: order.lines.map((l) => ({ product_id: l.productId, quantity: l.quantity, unit_price_cents: l.unitPriceCents })),
  };
}

export function stockRefusal(result: Exclude<TakeStockResult, { ok: true }>): AppError {
  if (result.reason === 'unknown_product') {
    return new AppError('unknown_product', `Unknown or archived product: ${result.productIds.join(', ')}`, {
      extra: { products: result.productIds },
    });
  }
  return new AppError('insufficient_stock', 'Not enough stock for some items; nothing was ordered', {
    extra: { items: result.items.map((i) => ({ product: i.productId, requested: i.requested, available: i.available })) },
  });
}
