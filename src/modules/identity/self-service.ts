/**
 * A customer's own account: change the password, sign out everywhere, close the account.
 *
 * Each of them ends sessions the same way: first the per-user marker in the key-value store
 * ("sessions begun before T are void", optionally but one), then, in one transaction, the same
 * fact in the database and the refresh tokens revoked. Marker first, as for deactivation: if the
 * transaction fails the worst left behind is a sign-out, never a change whose old sessions live on.
 */
import type { Platform } from '../../platform/platform.ts';
import { AppError, notFound } from '../../platform/errors.ts';
import type { AuthUser } from '../../platform/http/auth.ts';
import type { Db } from '../../platform/db.ts';
import { hashPassword, passwordProblems, verifyPassword } from './passwords.ts';
import * as repo from './repo.ts';
import type { RevocationList } from './revocation.ts';
import type { UserRow } from './tables.ts';
import type { KnownAddresses } from './known-addresses.ts';
import type { LoginThrottle } from './throttle.ts';

export function checkNewPassword(password: string, user: Pick<UserRow, 'username' | 'email'>) {
  const errors = passwordProblems(password, user).map((e) => ({ ...e, field: 'new_password' }));
  if (errors.length > 0) throw new AppError('validation_failed', 'The new password is not acceptable', { errors });
}

export function createSelfService(deps: { platform: Platform; revocation: RevocationList; throttle: LoginThrottle; knownAddresses: KnownAddresses }) {
  const { platform, revocation, throttle, knownAddresses } = deps;
  const { db, logger } = platform;

  async function activeUser(userId: string): Promise<UserRow> {
    const user = await repo.findUserById(db.primary, userId);
    if (!user || !user.isActive) throw notFound('User');
    return user;
  }

  /**
   * A password asked again before a sensitive change. Wrong guesses count toward the login
   * throttle of the account and the address: a stolen access token must not become a way to try
   * passwords without limit.
   */
  async function confirmPassword(user: UserRow, password: string, clientAddress: string): Promise<void> {
    await throttle.check(user.username, clientAddress, await knownAddresses.isKnown(user.id, clientAddress));
    if (await verifyPassword(user.passwordHash, password)) return;
    await throttle.recordFailure(user.username, clientAddress);
    throw new AppError('not_authenticated', 'The password is wrong');
  }

  /**
   * Voids the user's sessions begun before now (all, or all but `exceptSession`) and applies
   * `changes`; `first` runs at the start of the same transaction (and may refuse by throwing).
   */
  async function endSessions(userId: string, changes: repo.UserChanges, exceptSession?: string, first?: (tx: Db) => Promise<void>): Promise<void> {
    const at = new Date();
    await revocation.revokeUser(userId, at, exceptSession);
    await db.primary.transaction(async (tx: Db) => {
      await first?.(tx);
      await repo.updateUser(tx, userId, { ...changes, tokensNotBefore: at, tokensNotBeforeSession: exceptSession ?? null });
      await repo.revokeUserTokens(tx, userId, exceptSession);
      // A reset link still in a mailbox would undo the change: it dies with the old sessions.
      if (changes.passwordHash) await repo.deleteUserResets(tx, userId);
    });
  }

  return {
    endSessions,
    confirmPassword,

    async changePassword(caller: AuthUser, currentPassword: string, newPassword: string, clientAddress: string): Promise<void> {
      const user = await activeUser(caller.id);
      await confirmPassword(user, currentPassword, clientAddress);
      checkNewPassword(newPassword, user);
      await endSessions(user.id, { passwordHash: await hashPassword(newPassword) }, caller.sessionId);
      logger.info({ user_id: user.id, session_id: caller.sessionId }, 'password changed; other sessions revoked');
    },

    async logoutAll(caller: AuthUser): Promise<void> {
      await activeUser(caller.id);
      await endSessions(caller.id, {});
      logger.info({ user_id: caller.id }, 'signed out everywhere');
    },

    /**
     * Closes the account at once: every token dead, sign-in impossible, username and email free
     * again, personal data gone from the identity tables (repo.anonymiseUser). Orders stay: they
     * hold the customer's id and what was bought, nothing personal.
     */
    async closeAccount(caller: AuthUser, password: string, clientAddress: string): Promise<void> {
      const user = await activeUser(caller.id);
      await confirmPassword(user, password, clientAddress);
      const at = new Date();
      await revocation.revokeUser(user.id, at);
      const closed = await db.primary.transaction((tx: Db) => repo.anonymiseUser(tx, user.id, at));
      if (!closed) throw notFound('User');
      logger.info({ user_id: user.id }, 'account closed and its personal data erased');
    },
  };
}

export type SelfService = ReturnType<typeof createSelfService>;
