/**
 * The order events other modules consume (webhooks, customer mails), built by the outbox relay from
 * the records the writer and the state changes left in the same transaction as the change.
 *
 * Each event carries the order as the API presents it at that moment. An order's lines, total and
 * creation time never change after it is written; only its status (and cancel reason) moves, and
 * each record says which status it marks, so the snapshot is exact even when the relay runs after
 * a later change (an order shipped before its `order.created` was relayed still reads confirmed).
 *
 * The same events in both order modes: sync mode writes `order.created` (confirmed); flash-sale
 * mode writes `order.confirmed` for an accepted order it could fill, and `order.cancelled` with a
 * reason for one it could not; either of those is the order's first written state, so it also
 * yields `order.created` with that status. Later cancels and shipping yield one event each.
 */
import type { Db } from '../../platform/db.ts';
import * as repo from './repo.ts';
import { presentOrder, type OrderJson } from './schemas.ts';
import type { Order } from './tables.ts';

export type OrderEventType = 'order.created' | 'order.confirmed' | 'order.cancelled' | 'order.shipped';

export interface OrderEvent {
  type: OrderEventType;
  occurredAt: Date;
  order: OrderJson;
}

/**
 * Consumes relayed events inside the relay's transaction: what it writes commits with the records
 * marked relayed. `wants` (same transaction) says whether it would keep any order event now: when
 * no sink does (no order mails, no webhook subscription for orders), the relay marks the records
 * without building their events, which cost a read of every order and its lines.
 */
export interface OrderEventSink {
  wants(tx: Db): Promise<boolean>;
  consume(tx: Db, events: OrderEvent[]): Promise<void>;
}

type Snapshot = Pick<Order, 'status' | 'cancelReason'>;

function eventsOf(row: repo.OutboxRow, order: Order): OrderEvent[] {
  const occurredAt = new Date(row.created_at);
  const at = (type: OrderEventType, state: Snapshot): OrderEvent => ({ type, occurredAt, order: presentOrder({ ...order, ...state }) });
  const payload = (row.payload ?? {}) as { reason?: Order['cancelReason'] };
  switch (row.topic) {
    case 'order.created':
      return [at('order.created', { status: 'confirmed', cancelReason: null })];
    case 'order.confirmed':
      return [at('order.created', { status: 'confirmed', cancelReason: null }), at('order.confirmed', { status: 'confirmed', cancelReason: null })];
    case 'order.shipped':
      return [at('order.shipped', { status: 'shipped', cancelReason: null })];
    case 'order.cancelled': {
      // The writer's records (an accepted order it could not fill) carry the reason; a cancel by
      // the customer or staff does not, and the order's own reason is final once cancelled.
      const written = payload.reason !== undefined;
      const state: Snapshot = { status: 'cancelled', cancelReason: payload.reason ?? order.cancelReason };
      return written ? [at('order.created', state), at('order.cancelled', state)] : [at('order.cancelled', state)];
    }
  }
}

/** The events of a batch of outbox records, in record order; a record whose order is gone yields none. */
export async function orderEventsOf(tx: Db, rows: repo.OutboxRow[]): Promise<OrderEvent[]> {
  const ids = [...new Set(rows.map((r) => (r.payload as { order_id?: string } | null)?.order_id).filter((id): id is string => typeof id === 'string'))];
  const orders = await repo.findOrders(tx, ids);
  return rows.flatMap((row) => {
    const order = orders.get((row.payload as { order_id?: string } | null)?.order_id ?? '');
    return order ? eventsOf(row, order) : [];
  });
}
