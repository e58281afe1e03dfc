/**
 * Placing an order in flash-sale mode: Redis admits it (admission.ts) and the answer is 202
 * `pending`; the worker writes it later. Every order goes through admission, also the first of a
 * product whose mirror is missing (inventory loads it, once, then admits).
 *
 * Idempotency-Key (invariant 5; issue 22, defects 1 and 2): admission's one Redis step looks at the
 * key before any unit is counted and records it with the accepted order, so the key is claimed in
 * the same atomic step that takes the units. A retry racing its first try therefore finds the key
 * (its replay, 202) or is the one accepted (the first try then gets the replay); the same key with
 * another body is 422 whatever the stock. There is no path around admission: a second path (the
 * sync placement, once taken for products without a mirror) held units under no key Redis could
 * see, and a racing retry was told `insufficient_stock`.
 */
import type { IdempotentOutcome } from '../idempotency.ts';
import type { Place } from '../place.ts';
import type { OrderJson } from '../schemas.ts';
import type { Admission, AsyncAdmission } from './admission.ts';

export function createFlashSalePlacement(deps: {
  admission: AsyncAdmission;
  getOrder: (customerId: string, id: string) => Promise<OrderJson>;
  /** An order accepted (its first 202, not a replay): the "received" mail. Returns at once. */
  onAccepted?: ((order: OrderJson) => void) | undefined;
}): Place {
  const { admission } = deps;

  async function replay(customerId: string, seen: Extract<Admission, { kind: 'replay' }>): Promise<IdempotentOutcome<OrderJson>> {
    return { status: seen.status, body: await deps.getOrder(customerId, seen.orderId), replayed: true };
  }

  return async (customerId, lines, options, hash) => {
    const outcome = await placeFlashSale(customerId, lines, options, hash);
    // A pending order (202, first answer or replay) says where to poll it.
    return outcome.status === 202 ? { ...outcome, location: `/api/orders/orders/${outcome.body.id}/` } : outcome;
  };

  async function placeFlashSale(...[customerId, lines, options, hash]: Parameters<Place>): Promise<IdempotentOutcome<OrderJson>> {
    const idem = options.idempotencyKey === undefined ? undefined : { key: options.idempotencyKey, hash };
    // A checkout's replay must answer although the first run emptied the cart: look before reading it.
    const seen = idem && options.resolveLines ? await admission.storedKey(customerId, idem) : undefined;
    if (seen?.kind === 'replay') return replay(customerId, seen);
    const wanted = options.resolveLines ? await options.resolveLines() : lines;
    const admitted = await admission.admit(customerId, wanted, { holder: options.holder, idempotency: idem });
    if (admitted.kind === 'replay') return replay(customerId, admitted);
    deps.onAccepted?.(admitted.body);
    return { status: 202, body: admitted.body, replayed: false };
  }
}
