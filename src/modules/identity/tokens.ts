/**
 * Access tokens: HS256 JWTs with issuer, audience, expiry, id, subject, role and session (the
 * refresh-token family they came from). The algorithm is pinned at verification, so `alg: none`
 * and algorithm swaps are refused by jose before any claim is read.
 *
 * Refresh tokens: 256 random bits, base64url; only their SHA-256 is stored.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
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

export function createTokenSigner(settings: TokenSettings) {
  const key = new TextEncoder().encode(settings.jwtSecret);

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
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: settings.jwtIssuer,
          audience: settings.jwtAudience,
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        });
        const { sub, role, username, sid, iat } = payload;
        if (typeof sub !== 'string' || typeof username !== 'string' || typeof sid !== 'string' || typeof iat !== 'number') return null;
        if (role !== 'customer' && role !== 'staff') return null;
        return { userId: sub, username, role, sessionId: sid, issuedAt: iat };
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
