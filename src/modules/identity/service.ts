/**
 * The identity service: accounts, sessions and the per-request token check, built from the
 * platform parts. Other modules see only `authenticate` (through the platform's auth hook).
 */
import type { Platform } from '../../platform/platform.ts';
import type { Mailer } from '../../platform/mail.ts';
import { createAccounts } from './accounts.ts';
import { queueCustomerMails } from './customer-mail.ts';
import { createKnownAddresses } from './known-addresses.ts';
import { createMailDelivery } from './mail-outbox.ts';
import { createPasswordReset } from './password-reset.ts';
import { createSelfService } from './self-service.ts';
import * as repo from './repo.ts';
import { warmUpPasswords } from './passwords.ts';
import { createRevocationList } from './revocation.ts';
import { createSessions } from './sessions.ts';
import { createLoginThrottle } from './throttle.ts';
import { createTokenSigner } from './tokens.ts';

export function createIdentityService(deps: { platform: Platform; mailer: Mailer }) {
  const { platform, mailer } = deps;
  const { config, kv, db, logger } = platform;
  const signer = createTokenSigner(config.auth);
  const revocation = createRevocationList(kv, db, config.auth.accessTokenTtlSeconds, logger);
  const throttle = createLoginThrottle(
    kv,
    { maxFailures: config.auth.loginMaxFailures, maxFailuresPerAddress: config.auth.loginMaxFailuresPerAddress, windowSeconds: config.auth.loginWindowSeconds },
    logger,
  );
  const knownAddresses = createKnownAddresses(platform);
  const sessions = createSessions({ platform, signer, revocation, throttle, knownAddresses });
  const selfService = createSelfService({ platform, revocation, throttle, knownAddresses });
  const accounts = createAccounts({ platform, revocation, selfService });
  // Hash the dummy password now, so the first login for an unknown user costs what the rest do.
  warmUpPasswords().catch((error: unknown) => logger.warn({ err: error }, 'could not prepare the dummy password hash'));

  return {
    ...accounts,
    ...sessions,
    changePassword: selfService.changePassword,
    logoutAll: selfService.logoutAll,
    closeAccount: selfService.closeAccount,
    ...createPasswordReset({ platform, selfService }),
    /** Queues a mail to a customer in the caller's transaction (order mails); none to a closed account. */
    queueCustomerMails,
    /** Background job: sends the mail outbox. */
    ...createMailDelivery({ platform, mailer }),
    /** Background job: drops refresh tokens long expired, so the table does not grow forever. */
    purgeExpiredRefreshTokens: () => repo.purgeExpiredRefreshTokens(db.primary),
    /** The public base URL for page links, when configured. */
    publicUrl: config.http.publicUrl,
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
