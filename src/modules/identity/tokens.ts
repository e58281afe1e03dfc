/**
 * Access tokens: HS256 JWTs with issuer, audience, expiry, id, subject, role and session (the
 * refresh-token family they came from). The algorithm is pinned at verification, so `alg: none`
 * and algorithm swaps are refused by jose before any claim is read.
 *
 * Refresh tokens: 256 random bits, base64url; only their SHA-256 is stored.
 */
import { createHash, randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Role } from '../../platform/http/auth.ts';

const ALGORITHM = 'HS256';

export interface TokenSettings {
  jwtSecret: string;
  jwtIssuer: string;
  jwtAudience: string;
  accessTokenTtlSeconds: number;
}

export interface AccessClaims {
  userId: string;
  username: string;
  role: Role;
  /** The refresh-token family (one per login). */
  sessionId: string;
  /** Issued-at, seconds since the epoch. */
  issuedAt: number;
}

/**
 * Tokens already verified by this process, with their expiry. A client sends the same access token
 * on every request for its whole life, and the signature check of identical bytes can only give
 * the same answer: a hit skips it, the expiry is still checked on every use, and revocation is
 * checked by the caller on every request as before (sessions.ts: revocation.isRevoked, one MGET
 * batched with the turn's other reads), so a revoked token is refused at once. Only correctly
 * signed tokens get in, so a stranger cannot fill it; it is bounded anyway, least recently used
 * out first. Keyed by the whole token, not its signature alone: a cached signature must never vouch
 * for a header and payload it was not computed over.
 */
const VERIFIED_TOKENS = 10_000;

export function createTokenSigner(settings: TokenSettings) {
  const key = new TextEncoder().encode(settings.jwtSecret);
  // Imported once: handing jose raw bytes imports the key again on every verification.
  let verifyKey: Promise<webcrypto.CryptoKey> | undefined;
  const verified = new Map<string, { claims: AccessClaims; expiresAt: number }>();
  const remember = (token: string, claims: AccessClaims, expiresAt: number) => {
    verified.set(token, { claims, expiresAt });
    if (verified.size > VERIFIED_TOKENS) verified.delete(verified.keys().next().value!);
  };

  return {
    async sign(claims: Omit<AccessClaims, 'issuedAt'>): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: claims.role, username: claims.username, sid: claims.sessionId })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setIssuer(settings.jwtIssuer)
        .setAudience(settings.jwtAudience)
        .setSubject(claims.userId)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + settings.accessTokenTtlSeconds)
        .sign(key);
    },

    /** The claims of a valid token, or null for anything else (bad signature, expired, malformed). */
    async verify(token: string): Promise<AccessClaims | null> {
      const known = verified.get(token);
      if (known) {
        // jose's rule: expired once `exp` is not after the current second.
        if (known.expiresAt > Math.floor(Date.now() / 1000)) {
          // Most recently used last: Map keeps insertion order, and `remember` drops the first.
          verified.delete(token);
          verified.set(token, known);
          return known.claims;
        }
        verified.delete(token);
        return null;
      }
      try {
        verifyKey ??= webcrypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
        const { payload } = await jwtVerify(token, await verifyKey, {
          algorithms: [ALGORITHM],
          issuer: settings.jwtIssuer,
          audience: settings.jwtAudience,
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        });
        const { sub, role, username, sid, iat, exp } = payload;
        if (typeof sub !== 'string' || typeof username !== 'string' || typeof sid !== 'string' || typeof iat !== 'number') return null;
        if (role !== 'customer' && role !== 'staff') return null;
        const claims: AccessClaims = { userId: sub, username, role, sessionId: sid, issuedAt: iat };
        remember(token, claims, exp!);
        return claims;
      } catch {
        return null;
      }
    },
  };
}

export type TokenSigner = ReturnType<typeof createTokenSigner>;

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
