/** Status changes after an order is written: cancel (units back through inventory) and ship. */
import type { AuthUser } from '../../platform/http/auth.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import type { Db } from '../../platform/db.ts';
import type { InventoryService } from '../inventory/service.ts';
import * as repo from './repo.ts';
import { presentOrder, type OrderJson } from './schemas.ts';

export function createTransitions(deps: {
  primary: Db;
  inventory: Pick<InventoryService, 'returnStock' | 'stockCommitted'>;
  /** After a commit that changed stock (cached catalog pages). Never throws. */
  stockChanged: (productIds: string[]) => Promise<void>;
}) {
  const { primary, inventory } = deps;

  /** Why a transition did not happen: missing or not visible → 404, wrong state → 409. */
  async function refuseTransition(id: string, actor: AuthUser, action: string): Promise<never> {
    const order = await repo.findOrder(primary, id);
    if (!order || (actor.role !== 'staff' && order.customerId !== actor.id)) throw notFound('Order');
    throw new AppError('conflict', `A ${order.status} order cannot be ${action}`);
  }

  /**
   * Cancel: the conditional status change and the restock are one transaction, and only the
   * request whose update matched restocks, so a double cancel cannot return units twice.
   */
  async function cancelOrder(actor: AuthUser, id: string): Promise<OrderJson> {
    const order = await primary.transaction(async (tx) => {
      const visible = await repo.findOrder(tx, id);
      if (!visible || (actor.role !== 'staff' && visible.customerId !== actor.id)) return undefined;
      const reason = actor.role === 'staff' && visible.customerId !== actor.id ? 'staff' : 'customer';
      const cancelled = await repo.transitionStatus(tx, id, ['confirmed'], 'cancelled', reason);
      if (!cancelled) return undefined;
      const mirrors = await inventory.returnStock(tx, cancelled.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })));
      await repo.insertOutbox(tx, 'order.cancelled', { order_id: id, customer_id: cancelled.customerId, cancelled_by: actor.id });
      return { ...cancelled, mirrors };
    });
    if (!order) return refuseTransition(id, actor, 'cancelled');
    // The units are back: carts see them at once through the mirror, not after it ages out.
    await Promise.all([deps.stockChanged(order.lines.map((l) => l.productId)), inventory.stockCommitted(order.mirrors)]);
    return presentOrder(order);
  }

  async function shipOrder(actor: AuthUser, id: string): Promise<OrderJson> {
    const order = await primary.transaction(async (tx) => {
      const shipped = await repo.transitionStatus(tx, id, ['confirmed'], 'shipped');
      if (shipped) await repo.insertOutbox(tx, 'order.shipped', { order_id: id, customer_id: shipped.customerId });
      return shipped;
    });
    if (!order) return refuseTransition(id, actor, 'shipped');
    return presentOrder(order);
  }

  return { cancelOrder, shipOrder };
}
