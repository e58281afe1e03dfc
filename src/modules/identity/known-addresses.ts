/**
 * Client addresses that signed in to an account with its password in the last KNOWN_FOR_DAYS
 * days. The per-user login block does not hold them back (throttle.ts): strangers failing at an
 * account from their own addresses cannot keep its owner out, while their guesses stay throttled.
 *
 * Only HMAC-SHA256(secret, user id, address) is stored: the table names no address, and a plain
 * hash of an IPv4 address would be undone by trying all 2^32. Bounded: a user's KEEP newest.
 * Changing JWT_SECRET forgets them all, which only means the per-user block applies again.
 */
import { createHmac } from 'node:crypto';
import type { Platform } from '../../platform/platform.ts';
import * as repo from './repo.ts';

export const KNOWN_FOR_DAYS = 30;
const KEEP = 10;

export function createKnownAddresses(platform: Platform) {
  const { db, config, logger } = platform;
  const hashOf = (userId: string, address: string) =>
    createHmac('sha256', config.auth.jwtSecret).update(`known-address\n${userId}\n${address}`).digest('base64url');

  return {
    isKnown: (userId: string, address: string) => repo.isKnownAddress(db.primary, userId, hashOf(userId, address), KNOWN_FOR_DAYS),

    /** After a successful sign-in. A failure here must not fail the sign-in: it is logged. */
    async remember(userId: string, address: string): Promise<void> {
      try {
        await repo.rememberAddress(db.primary, userId, hashOf(userId, address), KEEP, KNOWN_FOR_DAYS);
      } catch (error) {
        logger.warn({ err: error, user_id: userId }, 'could not remember the sign-in address');
      }
    },
  };
}

export type KnownAddresses = ReturnType<typeof createKnownAddresses>;
