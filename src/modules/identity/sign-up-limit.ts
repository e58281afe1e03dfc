/**
 * Registrations and email changes per client address per hour (REGISTRATION_MAX_PER_HOUR).
 *
 * Each of them can answer 409 for a taken email, so each is a probe of who has an account; each
 * registration also costs a password hash and makes an account that may hold stock in a cart. The
 * limit bounds all three per address. Tools that sign up many users from one address (the test
 * helpers, the benches) set a larger allowance in their own configuration.
 */
import type { Logger } from 'pino';
import { AppError } from '../../platform/errors.ts';
import type { KeyValueStore } from '../../platform/kv.ts';

const HOUR_SECONDS = 3600;

export function createSignUpLimit(kv: KeyValueStore, maxPerHour: number, logger: Logger) {
  return async function countSignUpAttempt(clientAddress: string): Promise<void> {
    let hit;
    try {
      hit = await kv.hit(`identity:sign-up:ip:${clientAddress}`, HOUR_SECONDS);
    } catch (error) {
      // Like the login throttle: an unavailable store must not take sign-ups down with it.
      logger.warn({ err: error }, 'sign-up limit unavailable');
      return;
    }
    if (hit.count <= maxPerHour) return;
    throw new AppError('rate_limited', 'Too many sign-ups or email changes from this address; try again later', {
      headers: { 'Retry-After': String(Math.max(1, hit.resetSeconds)) },
    });
  };
}

export type CountSignUpAttempt = ReturnType<typeof createSignUpLimit>;
