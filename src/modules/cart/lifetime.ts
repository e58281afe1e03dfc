/**
 * A cart's maximum lifetime (security review, finding 4): its holds expire CART_TTL_SECONDS after
 * the last change, but never later than CART_HOLD_MAX_SECONDS after its first line was put.
 * Without the bound, putting a line again every few minutes kept units from everyone else for ever.
 *
 * The cart's start is kept in the key-value store beside its holds (`cart:since:<customer>`) and
 * expires with them, so a cart that lapsed, was cleared or checked out starts afresh. Each change
 * asks the hold store for min(TTL, what is left of the lifetime): the hold store's own expiry stays
 * the one rule of when units come back.
 */
import type { KeyValueStore } from '../../platform/kv.ts';

const sinceKey = (customerId: string) => `cart:since:${customerId}`;

export function createCartLifetime(kv: KeyValueStore, settings: { ttlSeconds: number; holdMaxSeconds: number }) {
  const maxMs = settings.holdMaxSeconds * 1000;
  return {
    /** Before a change: the TTL to hold with, and `placed` to call with the holds' expiry after it. */
    async begin(customerId: string) {
      const now = Date.now();
      const stored = Number(await kv.get(sinceKey(customerId)));
      // Missing, or past its lifetime (the holds have expired with it): a new cart starts now.
      const since = stored > 0 && stored + maxMs > now ? stored : now;
      const ttlSeconds = Math.max(1, Math.min(settings.ttlSeconds, Math.floor((since + maxMs - now) / 1000)));
      return {
        ttlSeconds,
        /** `expiresAt`: when the cart's holds now expire; null when it holds nothing any more. */
        async placed(expiresAt: number | null): Promise<void> {
          if (expiresAt === null) return kv.del(sinceKey(customerId));
          await kv.set(sinceKey(customerId), String(since), Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000)));
        },
      };
    },

    end: (customerId: string) => kv.del(sinceKey(customerId)),
  };
}
