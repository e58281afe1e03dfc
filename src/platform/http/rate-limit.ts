/** A per-client-address request budget over the whole API (RATE_LIMIT_PER_MINUTE; 0 turns it off). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { briefly } from '../dependencies.ts';
import { AppError } from '../errors.ts';
import type { KeyValueStore } from '../kv.ts';

export function registerRateLimit(app: FastifyInstance, kv: KeyValueStore, perMinute: number) {
  if (perMinute <= 0) return;
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/')) return;
    await spendBudget(request, kv, 'ip', perMinute);
  });
}

/**
 * Counts one request against the client address's budget `name` for this minute; over it, 429.
 * The address is `request.ip`, which honours TRUST_PROXY's hops only (a forged X-Forwarded-For
 * from the client does not choose it).
 */
export async function spendBudget(request: FastifyRequest, kv: KeyValueStore, name: string, perMinute: number): Promise<void> {
  let result;
  try {
    result = await kv.hit(`rl:${name}:${request.ip}:${Math.floor(Date.now() / 60_000)}`, 60);
  } catch (error) {
    // A limiter that cannot count lets the request through rather than taking the API down.
    request.log.warn(briefly(error), 'rate limiter unavailable');
    return;
  }
  if (result.count > perMinute) {
    throw new AppError('rate_limited', 'Too many requests from this address', {
      headers: { 'Retry-After': String(result.resetSeconds) },
    });
  }
}
