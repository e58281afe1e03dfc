/**
 * The cart: one per customer, kept entirely in the hold store. A cart line IS the customer's hold
 * on that product (holder `cart:<customer id>`), so a cart and its reservations cannot disagree and
 * expire together, `CART_TTL_SECONDS` after the last change, with no job running — but never later
 * than `CART_HOLD_MAX_SECONDS` after the cart's first line was put (security review, finding 4):
 * re-putting a line cannot keep units from other customers for ever. The hold store keeps the
 * cart's start with its holds and caps the expiry in the same script that holds, so the cap costs
 * a PUT no round trip of its own. Carts are ephemeral by design: nothing of them is written to
 * PostgreSQL until checkout makes an order.
 *
 * Redis unreachable → every cart call answers 503 `unavailable` (invariant 7); nothing is guessed.
 */
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import type { HoldLine, HoldResult, Holding, InventoryService } from '../inventory/service.ts';
import type { OrdersService } from '../orders/service.ts';
import { presentCart, type CartJson, type CartLine } from './schemas.ts';

export interface CartDeps {
  platform: Platform;
  /** Cart lines are inventory's holds; names, current prices and archived flags are its product facts. */
  inventory: Pick<InventoryService, 'cartHolder' | 'setHolds' | 'holdsOf' | 'release' | 'insufficientStock' | 'facts'>;
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

/** Holders whose lines this process last saw, as a hint to the hold script (saves a retry when right). */
const KNOWN_HOLDERS = 10_000;

export function createCartService(deps: CartDeps) {
  const { inventory: holds, orders } = deps;
  const { facts, cartHolder, insufficientStock } = holds;
  const { config, logger, kv } = deps.platform;
  const mirrorMaxAgeMs = config.catalog.mirrorMaxAgeSeconds * 1000;
  const known = new Map<string, string[]>();
  const noteLines = (holder: string, lines: Map<string, number>) => {
    known.delete(holder);
    known.set(holder, [...lines.keys()]);
    if (known.size > KNOWN_HOLDERS) known.delete(known.keys().next().value!);
  };

  /** Presents the holder's lines with names and current prices; lines of archived products are let go. */
  async function present(holder: string, holding: Holding, version: string): Promise<CartJson> {
    const products = await facts.get([...holding.lines.keys()], version);
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
    const [version, holding] = await reachable(() => Promise.all([facts.contentVersion(), holds.holdsOf(holder)]));
    return present(holder, holding, version);
  }

  /**
   * One hold script (and the content version beside it, in the same round trip) on the hot path:
   * the line goes without figures, so the store checks it against its stock mirror. Only when the
   * mirror is missing or too old is the product read from the primary and the script run again
   * with its stock and version (and an unknown or archived product refused before anything is held).
   */
  async function hold(holder: string, productId: string, quantity: number): Promise<{ result: HoldResult; version: string }> {
    const { ttlSeconds, holdMaxSeconds, maxUnitsPerCart } = config.cart;
    const options = { maxUnitsTotal: maxUnitsPerCart, knownProducts: known.get(holder) ?? [], mirrorMaxAgeMs, maxLifetimeSeconds: holdMaxSeconds };
    const run = (line: HoldLine) => reachable(() => Promise.all([facts.contentVersion(), holds.setHolds(holder, [line], ttlSeconds, options)]));
    const [version, result] = await run({ productId, quantity });
    if (result.ok || result.reason !== 'stale') return { result, version };
    const product = (await facts.read([productId], version)).get(productId);
    if (!product || product.archived) throw unknownProduct(productId);
    const [again, retried] = await run({ productId, quantity, stock: product.stock, version: product.version });
    return { result: retried, version: again };
  }

  /** Sets one line (0 removes it); refuses, leaving the cart as it was, when the units are not free. */
  async function setItem(customerId: string, productId: string, quantity: number): Promise<CartJson> {
    const { maxUnitsPerLine } = config.cart;
    if (quantity > maxUnitsPerLine) throw new AppError('conflict', `A cart line holds at most ${maxUnitsPerLine} units`, { extra: { max_units_per_line: maxUnitsPerLine } });
    const holder = cartHolder(customerId);
    const { result, version } = await hold(holder, productId, quantity);
    if (!result.ok && result.reason === 'insufficient') throw insufficientStock(result.short, 'Not enough available stock; the cart was not changed');
    if (!result.ok && result.reason === 'cap') {
      throw new AppError('conflict', `A cart holds at most ${result.limit} units in total`, { extra: { max_units_per_cart: result.limit } });
    }
    if (!result.ok) throw new AppError('unavailable', 'Carts are unavailable right now; try again shortly');
    noteLines(holder, result.lines);
    const cart = await present(holder, { lines: result.lines, expiresAt: result.expiresAt }, version);
    // Held on a mirror of a product archived (or unknown) since: present() let it go; so is the request.
    if (quantity > 0 && !cart.items.some((item) => item.product === productId)) throw unknownProduct(productId);
    return cart;
  }

  // Removing is a change too: the rest of the cart gets a fresh TTL in the same step.
  const removeItem = (customerId: string, productId: string): Promise<CartJson> => setItem(customerId, productId, 0);

  async function clearCart(customerId: string): Promise<void> {
    // A cart that holds nothing has no start any more: the next line put begins a new lifetime.
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

function unknownProduct(productId: string): AppError {
  return new AppError('unknown_product', `Unknown or archived product: ${productId}`, { extra: { products: [productId] } });
}

export type CartService = ReturnType<typeof createCartService>;
