/** Reading orders: one order, and a customer's (or staff's) list. */
import type { AuthUser } from '../../platform/http/auth.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import type { Db } from '../../platform/db.ts';
import * as repo from './repo.ts';
import { presentOrder, type OrderJson } from './schemas.ts';

/** What Redis says of pending orders; `unreachable`: it did not answer (reads fall back to the database). */
export type PendingLookup<T> = { kind: 'pending'; value: T } | { kind: 'none' } | { kind: 'unreachable' };

/** Orders accepted but not yet written (flash-sale mode); sync mode has none. */
export interface PendingOrders {
  pendingOrder(orderId: string): Promise<PendingLookup<OrderJson>>;
  /** The customer's pending orders, newest first. */
  pendingOf(customerId: string): Promise<PendingLookup<OrderJson[]>>;
  /** Whether lists show pending orders at all. */
  readonly shown: boolean;
}

export const NO_PENDING: PendingOrders = {
  pendingOrder: async () => ({ kind: 'none' }),
  pendingOf: async () => ({ kind: 'pending', value: [] }),
  shown: false,
};

export function createOrderReads(deps: { primary: Db; pending: PendingOrders }) {
  const { primary, pending } = deps;

  const pendingUnknown = () =>
    new AppError('unavailable', 'Pending orders cannot be read right now; try again', { dependency: 'redis', headers: { 'retry-after': '1' } });

  /**
   * Own orders only; another customer's is indistinguishable from a missing one. Read on the
   * primary: read-your-writes. Flash-sale mode: Redis first, so polling a pending order costs no
   * database read (its record is dropped only after the commit, so one of the two has it). While
   * Redis is down a written order is still answered from the database; only an order the database
   * does not have yet (maybe pending) gets 503.
   */
  async function getOrder(customerId: string, id: string): Promise<OrderJson> {
    const seen = await pending.pendingOrder(id);
    if (seen.kind === 'pending') {
      if (seen.value.customer !== customerId) throw notFound('Order');
      return seen.value;
    }
    const order = await repo.findOrder(primary, id);
    if (!order && seen.kind === 'unreachable') throw pendingUnknown();
    if (!order || order.customerId !== customerId) throw notFound('Order');
    return presentOrder(order);
  }

  /**
   * A customer sees only their own orders; staff every customer's, optionally of one customer.
   * On the primary: a customer's new order and a status staff just changed show at once.
   */
  async function listOrders(viewer: AuthUser, filter: repo.OrderFilter, limit: number, offset: number) {
    const scoped = viewer.role === 'staff' ? filter : { status: filter.status, customerId: viewer.id };
    // Flash-sale mode: a customer's pending orders (in Redis until written) are their newest, so
    // they lead the history; read before the database so one written meanwhile is in one of the two.
    // Redis down: the written orders alone (a list of only pending ones cannot be answered).
    const showPending = pending.shown && viewer.role !== 'staff' && (filter.status === undefined || filter.status === 'pending');
    const lookup = showPending ? await pending.pendingOf(viewer.id) : undefined;
    if (lookup?.kind === 'unreachable' && filter.status === 'pending') throw pendingUnknown();
    const pendingOnes = lookup?.kind === 'pending' ? lookup.value : [];
    const head = pendingOnes.slice(offset, offset + limit);
    const page = await repo.listOrders(primary, scoped, limit - head.length, Math.max(0, offset - pendingOnes.length));
    const shown = new Set(pendingOnes.map((o) => o.id));
    const written = page.orders.filter((o) => !shown.has(o.id)).map(presentOrder);
    return { count: page.count + pendingOnes.length, results: [...head, ...written] };
  }

  return { getOrder, listOrders };
}
