/**
 * Revocation of access tokens before they expire, checked on every authenticated request.
 *
 * Access tokens are stateless JWTs; what makes one stop working early is one of two markers in the
 * key-value store, both read with a single MGET:
 *  - per user, "sessions begun before T are void", optionally except one session (deactivation,
 *    sign-out everywhere, a password change that keeps the caller's session, account closing);
 *  - per session (refresh-token family), "revoked" (logout, refresh-token reuse).
 * Each marker lives exactly as long as an access token can, after which every token it could
 * refuse has expired anyway, so the store holds only a handful of keys.
 *
 * The database keeps the same facts (users.tokens_not_before, refresh_tokens.revoked_at). When the
 * store cannot answer, the check reads them from the primary instead of failing open or closed.
 */
import type { Logger } from 'pino';
import type { Database } from '../../platform/db.ts';
import { briefly } from '../../platform/dependencies.ts';
import { AppError } from '../../platform/errors.ts';
import type { KeyValueStore } from '../../platform/kv.ts';
import { tokenState } from './repo.ts';
import type { AccessClaims } from './tokens.ts';

/** Covers clock differences between the processes that sign and those that check. */
const SKEW_SECONDS = 5;

const userKey = (userId: string) => `identity:tokens-not-before:${userId}`;
const sessionKey = (sessionId: string) => `identity:session-revoked:${sessionId}`;

export function createRevocationList(kv: KeyValueStore, db: Database, accessTtlSeconds: number, logger: Logger) {
  const ttl = accessTtlSeconds + SKEW_SECONDS;
  let degraded = false;

  const voidedBy = (claims: AccessClaims, notBeforeMs: number, exemptSession: string | null | undefined) =>
    claims.sessionId !== exemptSession && sessionStartMs(claims) < notBeforeMs;

  async function fromDatabase(claims: AccessClaims): Promise<boolean> {
    const state = await tokenState(db.primary, claims.userId, claims.sessionId);
    if (!state || !state.isActive || state.familyRevoked) return true;
    return state.tokensNotBefore !== null && voidedBy(claims, new Date(state.tokensNotBefore).getTime(), state.tokensNotBeforeSession);
  }

  return {
    async isRevoked(claims: AccessClaims): Promise<boolean> {
      let values: Array<string | null>;
      try {
        values = await kv.mget([userKey(claims.userId), sessionKey(claims.sessionId)]);
      } catch (error) {
        if (!degraded) logger.warn(briefly(error), 'revocation list unavailable; checking tokens against the database');
        degraded = true;
        return fromDatabase(claims);
      }
      if (degraded) logger.info('revocation list available again');
      degraded = false;
      const [userMark, sessionRevoked] = values;
      if (sessionRevoked !== null && sessionRevoked !== undefined) return true;
      if (userMark === null || userMark === undefined) return false;
      const [notBefore, exemptSession] = userMark.split(':');
      return voidedBy(claims, Number(notBefore), exemptSession);
    },

    /**
     * Voids every access token of a user's sessions begun before `at`, except `exceptSession`'s. Must reach the store: a deactivation
     * that only the database knew would leave the user's tokens working until they expire, so a
     * failure here is an error for the caller (the request can be retried; it is idempotent).
     */
    async revokeUser(userId: string, at: Date, exceptSession?: string): Promise<void> {
      try {
        await kv.set(userKey(userId), exceptSession ? `${at.getTime()}:${exceptSession}` : String(at.getTime()), ttl);
      } catch (error) {
        throw new AppError('unavailable', 'Could not revoke the account\'s tokens; try again', { dependency: 'redis', cause: error });
      }
    },

    /** Voids the access tokens of sessions. Best effort: they expire within minutes anyway. */
    async revokeSessions(sessionIds: string[]): Promise<void> {
      try {
        await Promise.all(sessionIds.map((id) => kv.set(sessionKey(id), '1', ttl)));
      } catch (error) {
        logger.warn(briefly(error), 'could not mark sessions revoked; their access tokens expire on their own');
      }
    },
  };
}

/**
 * When the token's session (refresh-token family) began: its id is a UUID v7, whose first 48 bits
 * are the creation time in milliseconds. Comparing that, not the token's `iat` (whole seconds),
 * keeps a sign-in made in the same second as a sign-out-everywhere working, while every token of
 * an older session (also one refreshed after the mark, in a race) stays void. Ids of another
 * shape fall back to the issue time.
 */
function sessionStartMs(claims: AccessClaims): number {
  const id = claims.sessionId;
  if (id.length === 36 && id[14] === '7') return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return claims.issuedAt * 1000;
}

export type RevocationList = ReturnType<typeof createRevocationList>;
