/**
 * The catalog's stock operations, called by orders inside their own transaction. Invariant 1 lives
 * here: one conditional update per line (stock >= q), lines in product-id order so two orders
 * cannot deadlock. Nothing else in the codebase changes `stock`.
 */
import type { Db } from '../../platform/db.ts';

export interface StockLine {
  productId: string;
  quantity: number;
}

export interface TakenProduct {
  id: string;
  name: string;
  priceCents: number;
  stockAfter: number;
  version: number;
}

export type TakeStockResult =
  | { ok: true; products: TakenProduct[] }
  | { ok: false; reason: 'unknown_product'; productIds: string[] }
  | { ok: false; reason: 'insufficient_stock'; items: Array<{ productId: string; requested: number; available: number }> };

/** Sums repeated products and sorts by id: the lock order every writer uses. */
export function normalizeLines(lines: StockLine[]): StockLine[] {
  const sums = new Map<string, number>();
  for (const line of lines) sums.set(line.productId, (sums.get(line.productId) ?? 0) + line.quantity);
  return [...sums].map(([productId, quantity]) => ({ productId, quantity })).sort((a, b) => (a.productId < b.productId ? -1 : 1));
}

export type TakeStock = (tx: Db, lines: StockLine[]) => Promise<TakeStockResult>;
export type ReturnStock = (tx: Db, lines: StockLine[]) => Promise<void>;
