/**
 * The identity service: accounts, sessions and the per-request token check, built from the
 * platform parts. Other modules see only `authenticate` (through the platform's auth hook).
 */
import type { Platform } from '../../platform/platform.ts';
import { createAccounts } from './accounts.ts';
import * as repo from './repo.ts';
import { warmUpPasswords } from './passwords.ts';
import { createRevocationList } from './revocation.ts';
import { createSessions } from './sessions.ts';
import { createLoginThrottle } from './throttle.ts';
import { createTokenSigner } from './tokens.ts';

export function createIdentityService(deps: { platform: Platform }) {
  const { platform } = deps;
  const { config, kv, db, logger } = platform;
  const signer = createTokenSigner(config.auth);
  const revocation = createRevocationList(kv, db, config.auth.accessTokenTtlSeconds, logger);
  const throttle = createLoginThrottle(kv, { maxFailures: config.auth.loginMaxFailures, windowSeconds: config.auth.loginWindowSeconds }, logger);
  const sessions = createSessions({ platform, signer, revocation, throttle });
  const accounts = createAccounts({ platform, revocation });
  // Hash the dummy password now, so the first login for an unknown user costs what the rest do.
  warmUpPasswords().catch((error: unknown) => logger.warn({ err: error }, 'could not prepare the dummy password hash'));

  return {
    ...accounts,
    ...sessions,
    /** Background job: drops refresh tokens long expired, so the table does not grow forever. */
    purgeExpiredRefreshTokens: () => repo.purgeExpiredRefreshTokens(db.primary),
    /** The public base URL for page links, when configured. */
    publicUrl: config.http.publicUrl,
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
