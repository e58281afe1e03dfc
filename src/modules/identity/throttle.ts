/**
 * Login throttling: failed logins are counted per username and per client address in the
 * key-value store (Redis when configured, so every process shares the counts). When either count
 * reaches LOGIN_MAX_FAILURES, that subject is blocked for a back-off that doubles with each further
 * failure (1 min, 2, 4, …) and never exceeds LOGIN_WINDOW_SECONDS: the real owner of a targeted
 * account is slowed down for minutes at most, never locked out.
 *
 * A successful login clears its username's failures but not its address's: otherwise an attacker
 * holding one valid account could reset the address counter between guesses at other accounts.
 */
import type { Logger } from 'pino';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { KeyValueStore } from '../../platform/kv.ts';

const FIRST_BACKOFF_SECONDS = 60;

export interface ThrottleSettings {
  maxFailures: number;
  windowSeconds: number;
}

type Subject = { kind: 'user' | 'ip'; id: string };

const subjects = (username: string, ip: string): Subject[] => [
  { kind: 'user', id: username.toLowerCase() },
  { kind: 'ip', id: ip },
];
const failKey = (s: Subject) => `identity:login-failures:${s.kind}:${s.id}`;
const blockKey = (s: Subject) => `identity:login-blocked:${s.kind}:${s.id}`;

export function createLoginThrottle(kv: KeyValueStore, settings: ThrottleSettings, logger: Logger) {
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
    /** Throws rate_limited while the username or the address is blocked. */
    async check(username: string, ip: string): Promise<void> {
      const values = await guarded('check', () => kv.mget(subjects(username, ip).map(blockKey)));
      const now = Date.now();
      const waitMs = Math.max(0, ...(values ?? []).map((v) => (v === null ? 0 : Number(v) - now)));
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new AppError('rate_limited', 'Too many failed login attempts; try again later', { headers: { 'Retry-After': String(seconds) } });
      }
    },

    async recordFailure(username: string, ip: string): Promise<void> {
      await guarded('count', async () => {
        for (const subject of subjects(username, ip)) {
          const { count } = await kv.hit(failKey(subject), settings.windowSeconds);
          if (count < settings.maxFailures) continue;
          const backoff = Math.min(settings.windowSeconds, FIRST_BACKOFF_SECONDS * 2 ** Math.min(count - settings.maxFailures, 20));
          await kv.set(blockKey(subject), String(Date.now() + backoff * 1000), backoff);
          logger.warn({ subject: subject.kind, failures: count, backoff_seconds: backoff }, 'login blocked after repeated failures');
        }
      });
    },

    async recordSuccess(username: string): Promise<void> {
      const [user] = subjects(username, '');
      await guarded('reset', () => kv.del(failKey(user!), blockKey(user!)));
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
