/**
 * Login throttling. Failed logins are counted in the key-value store (Redis when configured, so
 * every process shares the counts) for three subjects:
 *
 * - the client address, whatever the usernames (LOGIN_MAX_FAILURES_PER_ADDRESS): one address
 *   trying many accounts;
 * - the address and username together (LOGIN_MAX_FAILURES): one address guessing one account;
 * - the username, whatever the addresses (LOGIN_MAX_FAILURES): guesses spread over many addresses.
 *
 * When a count reaches its limit that subject is blocked for a back-off that doubles with each
 * further failure (1 min, 2, 4, …) and never exceeds LOGIN_WINDOW_SECONDS.
 *
 * The per-username block would let anyone keep an account locked out (five wrong guesses per
 * quarter of an hour, from anywhere): so it does not hold back an address that signed in to that
 * account with its password in the last 30 days (known-addresses.ts). The owner signs in from home
 * while strangers guess; the strangers' own addresses and pairs stay blocked, and an address new to
 * the account still meets every block.
 *
 * A successful login clears its username's and its pair's failures but not its address's:
 * otherwise an attacker holding one valid account could reset the address counter between guesses
 * at other accounts.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { KeyValueStore } from '../../platform/kv.ts';

const FIRST_BACKOFF_SECONDS = 60;

export interface ThrottleSettings {
  maxFailures: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

type Subject = { kind: 'user' | 'ip' | 'pair'; id: string; max: number };

const failKey = (s: Subject) => `identity:login-failures:${s.kind}:${s.id}`;
const blockKey = (s: Subject) => `identity:login-blocked:${s.kind}:${s.id}`;

export function createLoginThrottle(kv: KeyValueStore, settings: ThrottleSettings, logger: Logger) {
  const user = (username: string): Subject => ({ kind: 'user', id: username.toLowerCase(), max: settings.maxFailures });
  // The username in a login body is any string: the pair's key holds its hash, not the text.
  const pair = (username: string, ip: string): Subject => ({
    kind: 'pair',
    id: createHash('sha256').update(`${ip}\n${username.toLowerCase()}`).digest('base64url'),
    max: settings.maxFailures,
  });
  const address = (ip: string): Subject => ({ kind: 'ip', id: ip, max: settings.maxFailuresPerAddress });

  /** Counting must not take logins down with it: when the store fails, logins go through (logged). */
  async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (error) {
      logger.warn(briefly(error), `login throttle unavailable (${what})`);
      return undefined;
    }
  }

  return {
    /**
     * Throws rate_limited while the address, the pair or the username is blocked; the username's
     * block does not apply to an address known to the account (`knownAddress`).
     */
    async check(username: string, ip: string, knownAddress: boolean): Promise<void> {
      const subjects = [address(ip), pair(username, ip), ...(knownAddress ? [] : [user(username)])];
      const values = await guarded('check', () => kv.mget(subjects.map(blockKey)));
      const now = Date.now();
      const waitMs = Math.max(0, ...(values ?? []).map((v) => (v === null ? 0 : Number(v) - now)));
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new AppError('rate_limited', 'Too many failed login attempts; try again later', { headers: { 'Retry-After': String(seconds) } });
      }
    },

    async recordFailure(username: string, ip: string): Promise<void> {
      await guarded('count', async () => {
        for (const subject of [address(ip), pair(username, ip), user(username)]) {
          const { count } = await kv.hit(failKey(subject), settings.windowSeconds);
          if (count < subject.max) continue;
          const backoff = Math.min(settings.windowSeconds, FIRST_BACKOFF_SECONDS * 2 ** Math.min(count - subject.max, 20));
          await kv.set(blockKey(subject), String(Date.now() + backoff * 1000), backoff);
          logger.warn({ subject: subject.kind, failures: count, backoff_seconds: backoff }, 'login blocked after repeated failures');
        }
      });
    },

    async recordSuccess(username: string, ip: string): Promise<void> {
      const cleared = [user(username), pair(username, ip)];
      await guarded('reset', () => kv.del(...cleared.flatMap((s) => [failKey(s), blockKey(s)])));
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
