/**
 * One authorization mechanism, declared per route: `config: { auth: 'public' | 'guest' | 'customer' | 'staff' }`.
 * `guest`: a token is optional — checked when sent (a bad one is 401), else the caller is anonymous.
 * A route under /api that declares nothing requires a signed-in user. The token check itself is
 * the identity module's (passed in), so the platform knows no business rules.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

export type Role = 'customer' | 'staff';
export type Access = 'public' | 'guest' | 'customer' | 'staff';

export interface AuthUser {
  id: string;
  username: string;
  role: Role;
  /** The sign-in session the token belongs to (self-service keeps the caller's own session). */
  sessionId?: string;
}

export type Authenticator = (token: string) => Promise<AuthUser>;

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser | null;
  }
  interface FastifyContextConfig {
    auth?: Access;
  }
}

export function requiredAccess(request: FastifyRequest): Access {
  // Unknown routes answer 404 to everyone; asking for a token first would hide that.
  if (request.is404) return 'public';
  const declared = request.routeOptions.config?.auth;
  if (declared) return declared;
  return request.url.startsWith('/api/') ? 'customer' : 'public';
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  // Exactly `Bearer <token>` (RFC 6750): anything after the token is not ignored but refused.
  const match = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  return match?.[1];
}

/** The signed-in user, for handlers of routes that require one. */
export function currentUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw new AppError('not_authenticated', 'Authentication required');
  return request.user;
}

export function registerAuth(app: FastifyInstance, authenticate: Authenticator) {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (request) => {
    const access = requiredAccess(request);
    if (access === 'public') return;
    const header = request.headers.authorization;
    const token = bearerToken(header);
    if (header && !token) throw new AppError('not_authenticated', 'The Authorization header must be exactly "Bearer <token>"', { headers: { 'WWW-Authenticate': 'Bearer' } });
    if (!token && access === 'guest') return;
    if (!token) throw new AppError('not_authenticated', 'Authentication credentials were not provided', { headers: { 'WWW-Authenticate': 'Bearer' } });
    request.user = await authenticate(token);
    if (access === 'staff' && request.user.role !== 'staff') throw new AppError('forbidden', 'Staff only');
  });
}
