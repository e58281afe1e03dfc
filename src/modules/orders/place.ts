/**
 * Placing an order the synchronous way (every mode's base; the only one in sync mode): reserve
 * every line through inventory (invariant 3), write through the batching writer, then spend or
 * release the reservation. The writer's locked rows stay the final word (invariant 1).
 */
import { AppError } from '../../platform/errors.ts';
import type { InventoryService, StockLine } from '../inventory/service.ts';
import type { OrderWriter, WriteRequest } from './batch-writer.ts';
import type { Idempotency, IdempotentOutcome } from './idempotency.ts';
import type { OrderJson } from './schemas.ts';

export interface PlaceOptions {
  idempotencyKey?: string | undefined;
  /** Hash of the request the key was sent with; defaults to a hash of the normalized lines. */
  requestHash?: string | undefined;
  /** Cart checkout: the cart whose holds convert into the order. */
  holder?: string | undefined;
  /**
   * Cart checkout: reads the lines inside the idempotent section, so a replay answers even though
   * the first run emptied the cart. Replaces `lines`.
   */
  resolveLines?: (() => Promise<StockLine[]>) | undefined;
}

/** How a placement is answered: chosen once, where the orders service is built. */
export type Place = (customerId: string, lines: StockLine[], options: PlaceOptions, hash: string) => Promise<IdempotentOutcome<OrderJson>>;

export function createSyncPlacement(deps: { inventory: Pick<InventoryService, 'reserve'>; writer: OrderWriter; idempotency: Idempotency }): Place {
  const { inventory, writer, idempotency } = deps;

  /**
   * Invariant 3: every line is held (all or none) before the writer sees the order, so units live
   * in someone's cart are not taken; the writer's locked rows stay the final word (invariant 1).
   */
  async function holdAndWrite(customerId: string, lines: StockLine[], holder: string | undefined, idem: WriteRequest['idempotency']) {
    let hold;
    try {
      hold = await inventory.reserve(lines, holder);
    } catch (error) {
      // A replay must not be refused because the units it bought are gone since.
      const stored = idem && error instanceof AppError ? await idempotency.storedResponse<OrderJson>(customerId, idem.key, idem.hash) : undefined;
      if (stored) return { ...stored, replayed: true };
      throw error;
    }
    const outcome = await writer.place({ customerId, lines, idempotency: idem });
    if (outcome.kind === 'written') {
      await hold.commit(outcome.stock);
      return { status: 201, body: outcome.body, replayed: false };
    }
    await hold.release();
    if (outcome.kind === 'refused') throw outcome.error;
    if (outcome.kind === 'replayed') return { status: outcome.status, body: outcome.body as OrderJson, replayed: true };
    return { status: 201, body: outcome.body, replayed: false };
  }

  return async (customerId, lines, options, hash) => {
    const key = options.idempotencyKey;
    // A direct order's key is claimed and completed inside its batch (batch-writer.ts).
    if (!options.resolveLines) return holdAndWrite(customerId, lines, options.holder, key === undefined ? undefined : { key, hash });
    // Cart checkout reads its lines inside the idempotent section (the key claimed first), so a
    // replay answers even after the first run emptied the cart; the writer completes that claim.
    const resolveLines = options.resolveLines;
    return idempotency.withIdempotency<OrderJson>(customerId, key, hash, async (_complete, leaseToken) => {
      const wanted = await resolveLines();
      const written = await holdAndWrite(customerId, wanted, options.holder, key === undefined ? undefined : { key, hash, leaseToken });
      return { status: written.status, body: written.body };
    });
  };
}
