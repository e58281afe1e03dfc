/**
 * REDIS_DURABILITY, the setting: how flash-sale mode (ORDERS_MODE=async) is to tell that its Redis
 * keeps every acknowledged write — `verify` (ask the server) or `memorydb` (declared Amazon
 * MemoryDB). Parsed here with the rest of the config; the rule that judges a server with it is the
 * flash-sale wing's (modules/orders/flash-sale/durability.ts).
 */
export type RedisDurabilitySetting = 'verify' | 'memorydb';

export const REDIS_DURABILITY_SETTINGS: readonly RedisDurabilitySetting[] = ['verify', 'memorydb'];

export class RedisDurabilityError extends Error {
  override name = 'RedisDurabilityError';
}

/** Why async mode cannot run without REDIS_URL (start-up error and check:production row). */
export const ASYNC_NEEDS_REDIS_URL =
  'ORDERS_MODE=async needs REDIS_URL: accepted orders wait in a Redis stream until the worker writes them; set REDIS_URL or use ORDERS_MODE=sync';

/** REDIS_DURABILITY: unset or empty → `verify`; anything but `verify`/`memorydb` throws. */
export function parseRedisDurability(value: string | undefined): RedisDurabilitySetting {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return 'verify';
  if ((REDIS_DURABILITY_SETTINGS as readonly string[]).includes(v)) return v as RedisDurabilitySetting;
  throw new RedisDurabilityError(`REDIS_DURABILITY must be one of ${REDIS_DURABILITY_SETTINGS.join(', ')} (is "${value}")`);
}
