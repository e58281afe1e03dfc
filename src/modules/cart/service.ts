/**
 * The cart: one per customer, kept entirely in the hold store. A cart line IS the customer's hold
 * on that product (holder `cart:<customer id>`), so a cart and its reservations cannot disagree and
 * expire together, `CART_TTL_SECONDS` after the last change, with no job running. Carts are
 * ephemeral by design: nothing of them is written to PostgreSQL until checkout makes an order.
 *
 * Redis unreachable → every cart call answers 503 `unavailable` (invariant 7); nothing is guessed.
 */
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import { cartHolder, insufficientStock, type HoldStore, type Holding, type ProductForHold } from '../catalog/holds.ts';
import type { OrdersService } from '../orders/service.ts';
import { presentCart, type CartJson, type CartLine } from './schemas.ts';

export interface CartDeps {
  platform: Platform;
  holds: HoldStore;
  /** Name, current price, stock and version per product, from the catalog (primary). */
  getProducts: (ids: string[]) => Promise<Map<string, ProductForHold>>;
  orders: Pick<OrdersService, 'placeOrder' | 'requestHash'>;
}

/** Store failures are Redis being unreachable: a cart cannot be served safely without it. */
async function reachable<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('unavailable', 'Carts are unavailable right now; try again shortly', { dependency: 'redis', cause: error });
  }
}

/** Longer than any checkout takes; only a crashed process leaves one behind, and it expires. */
const CHECKOUT_LEASE_SECONDS = 30;

export function createCartService(deps: CartDeps) {
  const { holds, getProducts, orders } = deps;
  const { config, logger, kv } = deps.platform;
  const ttl = config.cart.ttlSeconds;

  /** Presents the holder's lines with names and current prices; lines of archived products are let go. */
  async function present(holder: string, holding: Holding): Promise<CartJson> {
    const products = await getProducts([...holding.lines.keys()]);
    const lines: CartLine[] = [];
    const gone: string[] = [];
    for (const [productId, quantity] of holding.lines) {
      const p = products.get(productId);
      if (!p || p.archived) gone.push(productId);
      else lines.push({ productId, name: p.name, priceCents: p.priceCents, quantity });
    }
    // A product archived since it was put in the cart cannot be ordered: its hold is let go.
    if (gone.length > 0) await holds.release(holder, gone).catch((error) => logger.warn(briefly(error), 'could not release holds on archived products'));
    lines.sort((a, b) => (a.productId < b.productId ? -1 : 1));
    return presentCart(lines, holding.expiresAt);
  }

  async function getCart(customerId: string): Promise<CartJson> {
    const holder = cartHolder(customerId);
    return present(holder, await reachable(() => holds.holdsOf(holder)));
  }

  /** Sets one line (0 removes it); refuses, leaving the cart as it was, when the units are not free. */
  async function setItem(customerId: string, productId: string, quantity: number): Promise<CartJson> {
    const { maxUnitsPerLine, maxUnitsPerCart } = config.cart;
    if (quantity > maxUnitsPerLine) throw new AppError('conflict', `A cart line holds at most ${maxUnitsPerLine} units`, { extra: { max_units_per_line: maxUnitsPerLine } });
    const holder = cartHolder(customerId);
    // The product and the cart are read side by side; knowing the cart's lines lets the hold script
    // refresh them all in one round trip.
    const [products, before] = await Promise.all([getProducts([productId]), reachable(() => holds.holdsOf(holder))]);
    const product = products.get(productId);
    if (quantity > 0 && (!product || product.archived)) {
      throw new AppError('unknown_product', `Unknown or archived product: ${productId}`, { extra: { products: [productId] } });
    }
    const line = { productId, quantity, stock: product?.stock ?? 0, version: product?.version ?? 0 };
    const result = await reachable(() =>
      holds.setHolds(holder, [line], ttl, { maxUnitsTotal: maxUnitsPerCart, knownProducts: [...before.lines.keys()] }),
    );
    if (!result.ok && result.reason === 'insufficient') throw insufficientStock(result.short, 'Not enough available stock; the cart was not changed');
    if (!result.ok) {
      throw new AppError('conflict', `A cart holds at most ${result.limit} units in total`, { extra: { max_units_per_cart: result.limit } });
    }
    // The cart after the change, from what was read plus this change (a concurrent change by the same
    // customer shows on the next read).
    const after = new Map(before.lines);
    if (quantity > 0) after.set(productId, quantity);
    else after.delete(productId);
    return present(holder, { lines: after, expiresAt: result.expiresAt });
  }

  async function removeItem(customerId: string, productId: string): Promise<CartJson> {
    // Removing is a change too: the rest of the cart gets a fresh TTL in the same step.
    await reachable(() => holds.setHolds(cartHolder(customerId), [{ productId, quantity: 0, stock: 0, version: 0 }], ttl));
    return getCart(customerId);
  }

  async function clearCart(customerId: string): Promise<void> {
    await reachable(() => holds.release(cartHolder(customerId)));
  }

  /**
   * The cart's lines become an order through the orders service, which re-holds them under the
   * cart (its own units count as available to it), writes the database, then drops the cart.
   * The lines are read inside the idempotent section, so a replay answers after the cart is gone.
   */
  async function checkout(customerId: string, idempotencyKey: string | undefined) {
    const holder = cartHolder(customerId);
    // One checkout of a cart at a time: two racing without an Idempotency-Key would otherwise both
    // order the same held lines. The lease is taken inside the idempotent section, so a replay
    // or a same-key race still answers as the idempotency rules say.
    const lease = `cart:checkout:${customerId}`;
    let leased = false;
    try {
      return await orders.placeOrder(customerId, [], {
        idempotencyKey,
        requestHash: orders.requestHash('cart.checkout', null),
        holder,
        resolveLines: async () => {
          leased = await reachable(() => kv.setIfAbsent(lease, '1', CHECKOUT_LEASE_SECONDS));
          if (!leased) throw new AppError('conflict', 'A checkout of this cart is already in progress');
          const holding = await reachable(() => holds.holdsOf(holder));
          if (holding.lines.size === 0) throw new AppError('conflict', 'The cart is empty');
          return [...holding.lines].map(([productId, quantity]) => ({ productId, quantity }));
        },
      });
    } finally {
      if (leased) await kv.del(lease).catch((error) => logger.warn(briefly(error), 'checkout lease not released; it expires by itself'));
    }
  }

  return { getCart, setItem, removeItem, clearCart, checkout };
}

export type CartService = ReturnType<typeof createCartService>;
