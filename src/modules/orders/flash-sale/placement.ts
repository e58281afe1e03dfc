/**
 * Placing an order in flash-sale mode: Redis admits it (admission.ts) and the answer is 202
 * `pending`; the worker writes it later. Only a product inventory cannot mirror at all takes the
 * sync placement (which refuses it, unknown).
 */
import type { Logger } from 'pino';
import type { IdempotentOutcome } from '../idempotency.ts';
import type { Place } from '../place.ts';
import type { OrderJson } from '../schemas.ts';
import type { Admission, AsyncAdmission } from './admission.ts';

export function createFlashSalePlacement(deps: {
  admission: AsyncAdmission;
  sync: Place;
  getOrder: (customerId: string, id: string) => Promise<OrderJson>;
  logger: Logger;
  /** An order accepted (its first 202, not a replay): the "received" mail. Returns at once. */
  onAccepted?: ((order: OrderJson) => void) | undefined;
}): Place {
  const { admission, sync, logger } = deps;

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
    if (admitted.kind === 'accepted') {
      deps.onAccepted?.(admitted.body);
      return { status: 202, body: admitted.body, replayed: false };
    }
    const written = await sync(customerId, wanted, { ...options, resolveLines: options.resolveLines && (async () => wanted) }, hash);
    if (idem && !written.replayed) {
      await admission.remember(customerId, idem, written.body.id, written.status).catch((error: unknown) => logger.warn({ err: error }, 'could not record the key in Redis'));
    }
    return written;
  }
}
