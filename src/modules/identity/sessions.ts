/**
 * Sign-in sessions: login, refresh-token rotation with reuse detection, logout, and the
 * per-request access-token check.
 */
import type { Platform } from '../../platform/platform.ts';
import { AppError } from '../../platform/errors.ts';
import type { AuthUser, Role } from '../../platform/http/auth.ts';
import { newId } from '../../platform/ids.ts';
import type { Db } from '../../platform/db.ts';
import { verifyPassword } from './passwords.ts';
import * as repo from './repo.ts';
import type { RevocationList } from './revocation.ts';
import type { UserRow } from './tables.ts';
import type { KnownAddresses } from './known-addresses.ts';
import type { LoginThrottle } from './throttle.ts';
import { hashRefreshToken, newRefreshToken, type TokenSigner } from './tokens.ts';

export interface TokenPair {
  access: string;
  refresh: string;
  expiresIn: number;
}

const NO_ACCOUNT = '00000000-0000-0000-0000-000000000000';

// One answer for every failed login, so the response does not tell which usernames exist.
const badCredentials = () => new AppError('not_authenticated', 'No active account found with the given credentials');
const invalidToken = (detail: string) =>
  new AppError('invalid_token', detail, { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });

export const roleOf = (user: Pick<UserRow, 'isStaff'>): Role => (user.isStaff ? 'staff' : 'customer');

export function createSessions(deps: {
  platform: Platform;
  signer: TokenSigner;
  revocation: RevocationList;
  throttle: LoginThrottle;
  knownAddresses: KnownAddresses;
}) {
  const { platform, signer, revocation, throttle, knownAddresses } = deps;
  const { db, config, logger } = platform;
  const refreshTtlMs = config.auth.refreshTokenTtlSeconds * 1000;

  async function storeRefreshToken(tx: Db, userId: string, familyId: string): Promise<string> {
    const token = newRefreshToken();
    await repo.insertRefreshToken(tx, {
      id: newId(),
      familyId,
      userId,
      tokenHash: hashRefreshToken(token),
      expiresAt: new Date(Date.now() + refreshTtlMs),
    });
    return token;
  }

  const accessFor = (user: UserRow, sessionId: string) =>
    signer.sign({ userId: user.id, username: user.username, role: roleOf(user), sessionId });

  type RefreshOutcome = { kind: 'ok'; user: UserRow; familyId: string; refresh: string } | { kind: 'refused'; revokedFamily?: string };

  /** One transaction; the row lock makes two refreshes with one token run one after the other. */
  function rotate(token: string): Promise<RefreshOutcome> {
    return db.primary.transaction(async (tx) => {
      const row = await repo.findRefreshTokenForUpdate(tx, hashRefreshToken(token));
      if (!row || row.revokedAt) return { kind: 'refused' };
      if (row.usedAt) {
        // Already rotated: someone holds a copy. Revoke the family so the thief's newer token dies too.
        await repo.revokeFamily(tx, row.familyId);
        return { kind: 'refused', revokedFamily: row.familyId };
      }
      if (row.expiresAt.getTime() <= Date.now()) return { kind: 'refused' };
      const user = await repo.findUserById(tx, row.userId);
      if (!user || !user.isActive) {
        await repo.revokeFamily(tx, row.familyId);
        return { kind: 'refused', revokedFamily: row.familyId };
      }
      await repo.markRefreshTokenUsed(tx, row.id);
      const refresh = await storeRefreshToken(tx, user.id, row.familyId);
      return { kind: 'ok', user, familyId: row.familyId, refresh };
    });
  }

  return {
    async login(username: string, password: string, clientAddress: string): Promise<TokenPair> {
      const user = await repo.findUserByUsername(db.primary, username);
      // An unknown username has no known address and meets every block; it is looked up all the
      // same (under an id no account has), so the time does not tell which usernames exist.
      const known = (await knownAddresses.isKnown(user?.id ?? NO_ACCOUNT, clientAddress)) && user?.isActive === true;
      await throttle.check(username, clientAddress, known);
      const ok = await verifyPassword(user?.passwordHash, password);
      if (!ok || !user || !user.isActive) {
        await throttle.recordFailure(username, clientAddress);
        throw badCredentials();
      }
      await throttle.recordSuccess(username, clientAddress);
      await knownAddresses.remember(user.id, clientAddress);
      const familyId = newId();
      const refresh = await storeRefreshToken(db.primary, user.id, familyId);
      logger.info({ user_id: user.id, session_id: familyId }, 'signed in');
      return { access: await accessFor(user, familyId), refresh, expiresIn: config.auth.accessTokenTtlSeconds };
    },

    async refresh(token: string): Promise<TokenPair> {
      const outcome = await rotate(token);
      if (outcome.kind === 'refused') {
        if (outcome.revokedFamily) {
          await revocation.revokeSessions([outcome.revokedFamily]);
          logger.warn({ session_id: outcome.revokedFamily }, 'refresh token presented again after use; session revoked');
        }
        throw invalidToken('Refresh token is invalid, expired or revoked');
      }
      return { access: await accessFor(outcome.user, outcome.familyId), refresh: outcome.refresh, expiresIn: config.auth.accessTokenTtlSeconds };
    },

    /** Ends the session the refresh token belongs to, if it is the caller's; silent otherwise. */
    async logout(userId: string, token: string): Promise<void> {
      const row = await repo.findRefreshToken(db.primary, hashRefreshToken(token));
      if (!row || row.userId !== userId) return;
      await repo.revokeFamily(db.primary, row.familyId);
      await revocation.revokeSessions([row.familyId]);
    },

    /** The per-request check: signature and claims first (no I/O), then one store read. */
    async authenticate(token: string): Promise<AuthUser> {
      const claims = await signer.verify(token);
      if (!claims) throw invalidToken('Token is invalid or expired');
      if (await revocation.isRevoked(claims)) throw invalidToken('Token has been revoked');
      return { id: claims.userId, username: claims.username, role: claims.role, sessionId: claims.sessionId };
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
