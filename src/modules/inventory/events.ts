/**
 * The product events inventory records: `product.updated` (name, price or archive state changed,
 * sold out, back in stock) and `inventory.low_stock` (units fell to the staff low-stock line or
 * below). Recorded through the recorder the composition root hands in (the webhooks intake), in
 * the transaction of the change itself: committed together or not at all.
 *
 * Only crossings count, never each unit: a product is low when its shelf stock (the `stock`
 * column, as the staff low-stock list counts it; cart holds expire by themselves and are not
 * counted) is at or below the line, and `inventory.low_stock` is recorded when a change takes it
 * from above the line to at or below it. Units sold while it stays low record nothing; restocked
 * above the line and falling again, it records again. The same for sold out (> 0 → 0) and back
 * in stock (0 → > 0). Stock changes of an archived product record nothing.
 */
import { Type, type Static } from 'typebox';
import type { Db } from '../../platform/db.ts';
import { formatMoney } from '../../platform/money.ts';
import type { StockMirror } from './holds.ts';
import { normalizeLines, readProducts, type StockedProduct, type StockLine } from './stock.ts';

const Change = Type.Union([Type.Literal('name'), Type.Literal('price'), Type.Literal('archived'), Type.Literal('sold_out'), Type.Literal('back_in_stock')]);

const ProductFields = {
  id: Type.String(),
  name: Type.String(),
  price: Type.String({ description: 'Decimal with two places' }),
  stock: Type.Integer({ description: 'Units on the shelf after the change (confirmed orders already taken)' }),
  archived: Type.Boolean(),
};

/** `data` of `product.updated`: the product after the change, and what changed. */
export const ProductUpdatedEvent = Type.Object({
  ...ProductFields,
  changes: Type.Array(Change, { minItems: 1, description: 'What this change did; sold_out and back_in_stock are stock crossing zero' }),
});
export type ProductUpdatedEvent = Static<typeof ProductUpdatedEvent>;

/** `data` of `inventory.low_stock`: the product when its stock reached the line. */
export const LowStockEvent = Type.Object({
  ...ProductFields,
  previous_stock: Type.Integer({ description: 'Units on the shelf before the change (above the line)' }),
  low_stock_line: Type.Integer({ description: 'LOW_STOCK_LINE: at or below it a product is low' }),
});
export type LowStockEvent = Static<typeof LowStockEvent>;

export type ProductEvent =
  | { type: 'product.updated'; occurredAt: Date; data: ProductUpdatedEvent }
  | { type: 'inventory.low_stock'; occurredAt: Date; data: LowStockEvent };

/** Writes events in the caller's transaction. */
export type RecordProductEvents = (tx: Db, events: ProductEvent[]) => Promise<void>;

/** A product before and after one change, both read inside its transaction. */
export interface ProductChange {
  before: StockedProduct;
  after: StockedProduct;
}

const fields = (p: StockedProduct) => ({ id: p.id, name: p.name, price: formatMoney(p.priceCents), stock: p.stock, archived: p.archived });

export function productEvents(changes: ProductChange[], lowStockLine: number, occurredAt: Date): ProductEvent[] {
  const events: ProductEvent[] = [];
  for (const { before, after } of changes) {
    const what: ProductUpdatedEvent['changes'] = [];
    if (before.name !== after.name) what.push('name');
    if (before.priceCents !== after.priceCents) what.push('price');
    if (before.archived !== after.archived) what.push('archived');
    const live = !before.archived && !after.archived;
    if (live && before.stock > 0 && after.stock === 0) what.push('sold_out');
    if (live && before.stock === 0 && after.stock > 0) what.push('back_in_stock');
    if (what.length > 0) events.push({ type: 'product.updated', occurredAt, data: { ...fields(after), changes: what } });
    if (live && before.stock > lowStockLine && after.stock <= lowStockLine) {
      events.push({ type: 'inventory.low_stock', occurredAt, data: { ...fields(after), previous_stock: before.stock, low_stock_line: lowStockLine } });
    }
  }
  return events;
}

/** Whether moving from `before` to `after` units can cause an event (spares the product read on every other take). */
const crosses = (before: number, after: number, line: number) => (before > line) !== (after > line) || (before > 0) !== (after > 0);

export function createProductEvents(deps: { record: RecordProductEvents; lowStockLine: number }) {
  const { record, lowStockLine } = deps;

  async function changed(tx: Db, changes: ProductChange[]): Promise<void> {
    const events = productEvents(changes, lowStockLine, new Date());
    if (events.length > 0) await record(tx, events);
  }

  /**
   * After units moved by `sign` × `lines` (an order taking them, a cancel returning them) in `tx`:
   * the products whose stock crossed a line are read (in `tx`, so as just written) and their events
   * recorded. Most takes cross nothing and cost nothing.
   */
  async function moved(tx: Db, mirrors: StockMirror[], lines: StockLine[], sign: 1 | -1): Promise<void> {
    const delta = new Map(normalizeLines(lines).map((l) => [l.productId, sign * l.quantity]));
    const before = new Map(mirrors.map((m) => [m.productId, m.stock - (delta.get(m.productId) ?? 0)]));
    const crossing = mirrors.filter((m) => crosses(before.get(m.productId)!, m.stock, lowStockLine));
    if (crossing.length === 0) return;
    const products = await readProducts(tx, crossing.map((m) => m.productId));
    await changed(
      tx,
      [...products.values()].map((after) => ({ before: { ...after, stock: before.get(after.id)! }, after })),
    );
  }

  /**
   * Before an order batch takes `lines` from the rows it locked (`locked`: as read under the lock),
   * in its transaction: the figures after the take are known already, so the crossings' events are
   * recorded now and commit with the take (the batch's last round trip takes the stock and
   * commits). Most takes cross nothing and cost nothing.
   */
  async function taking(tx: Db, locked: Map<string, StockedProduct>, lines: StockLine[]): Promise<void> {
    const changes = normalizeLines(lines).flatMap((l) => {
      const before = locked.get(l.productId);
      if (!before || !crosses(before.stock, before.stock - l.quantity, lowStockLine)) return [];
      return [{ before, after: { ...before, stock: before.stock - l.quantity, version: before.version + 1 } }];
    });
    if (changes.length > 0) await changed(tx, changes);
  }

  return { changed, moved, taking };
}
