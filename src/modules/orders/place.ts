/**
 * Placing an order the synchronous way (every mode's base; the only one in sync mode): reserve
 * every line through inventory (invariant 3), write through the batching writer, then spend or
 * release the reservation. The writer's locked rows stay the final word (invariant 1).
 */
import type { Logger } from 'pino';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { KeyValueStore } from '../../platform/kv.ts';
import type { InventoryService, StockLine } from '../inventory/service.ts';
import type { OrderWriter, WriteRequest } from './batch-writer.ts';
import { LEASE_SECONDS, type Idempotency, type IdempotentOutcome } from './idempotency.ts';
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

/** How long a retry waits for its first try, racing it, to finish before it is told 409 in progress. */
const RETRY_WAIT_MS = 5000;

/** How a placement is answered: chosen once, where the orders service is built. */
export type Place = (customerId: string, lines: StockLine[], options: PlaceOptions, hash: string) => Promise<IdempotentOutcome<OrderJson>>;

export function createSyncPlacement(deps: {
  inventory: Pick<InventoryService, 'reserve'>;
  writer: OrderWriter;
  idempotency: Idempotency;
  /** Where a direct order's key is claimed before anything is held (Redis, or this process's memory). */
  kv: KeyValueStore;
  logger: Logger;
}): Place {
  const { inventory, writer, idempotency, kv, logger } = deps;

  /**
   * A direct order's key row is claimed inside its batch's transaction, which no other process
   * sees before the commit; holding first would tell a concurrent retry `insufficient_stock` (the
   * first try holds its units) and a reused key with another body the same when stock is short.
   * So the key is claimed here first, with the request's hash, where every process sees it at
   * once: a retry is answered `idempotency_key_in_progress` (or its replay once the first is done),
   * another body `idempotency_key_reused`, before any unit is held. The database row stays the
   * final word (batch-writer.ts); Redis unreachable → no claim, the database alone decides.
   * A claim taken at once costs no database read: a key finished earlier is found by the batch
   * (replay or `idempotency_key_reused`), or by `holdAndWrite` when its units can't be held.
   * Reading the key row here on every keyed order cost a primary round trip per order, outside
   * the batch (docs/benchmarks.md, issue 22's comparison).
   * Returns the claim's release, or the answer when the key is already taken.
   */
  /** The key's finished answer as a replay; another request's key → `idempotency_key_reused`. */
  async function stored(customerId: string, key: string, hash: string): Promise<IdempotentOutcome<OrderJson> | undefined> {
    const row = await idempotency.lookup(customerId, key);
    if (row && row.requestHash !== hash) throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request');
    return row?.done ? { ...(row.response as { status: number; body: OrderJson }), replayed: true } : undefined;
  }

  async function claimKey(customerId: string, key: string, hash: string): Promise<{ release: () => Promise<void> } | IdempotentOutcome<OrderJson>> {
    const claim = `orders:idem-claim:${customerId}:${key}`;
    // The same request under way elsewhere is waited for a moment, so a retry racing its first try
    // gets the replay (as one batch's duplicates do); past that, 409 in progress.
    const until = Date.now() + RETRY_WAIT_MS;
    for (;;) {
      let claimed: boolean;
      try {
        claimed = await kv.setIfAbsent(claim, hash, LEASE_SECONDS);
      } catch (error) {
        logger.warn(briefly(error), 'idempotency claim not taken (key-value store unreachable); the database decides');
        return { release: async () => undefined };
      }
      if (claimed) break;
      const other = await kv.get(claim).catch(() => null);
      if (other !== null && other !== hash) throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request');
      const done = await stored(customerId, key, hash);
      if (done) return done;
      if (Date.now() >= until) throw new AppError('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // Released after the order (and its key row) committed: a later retry then finds the row.
    return { release: () => kv.del(claim).catch((error: unknown) => logger.warn(briefly(error), 'idempotency claim not released; it expires by itself')) };
  }

  /**
   * Invariant 3: every line is held (all or none) before the writer sees the order, so units live
   * in someone's cart are not taken; the writer's locked rows stay the final word (invariant 1).
   */
  async function holdAndWrite(customerId: string, lines: StockLine[], holder: string | undefined, idem: WriteRequest['idempotency']) {
    let hold;
    try {
      hold = await inventory.reserve(lines, holder);
    } catch (error) {
      // A replay must not be refused because the units it bought are gone since, nor a reused key
      // told the stock is short: the key's row answers first (a replay, or 422 for another body).
      const done = idem && error instanceof AppError ? await stored(customerId, idem.key, idem.hash) : undefined;
      if (done) return done;
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
    if (!options.resolveLines) {
      if (key === undefined) return holdAndWrite(customerId, lines, options.holder, undefined);
      const claim = await claimKey(customerId, key, hash);
      if (!('release' in claim)) return claim;
      try {
        return await holdAndWrite(customerId, lines, options.holder, { key, hash });
      } finally {
        await claim.release();
      }
    }
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
