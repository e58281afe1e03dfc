/**
 * How many times a built suggestion waits on Redis, seen as a user would: with Redis slow to
 * answer (the fault proxy holding every chunk for 500 ms each way, so a round trip costs 1 s),
 * a suggestion nobody asked before takes as many 1 s steps as it has round trips awaited one
 * after the other. It has two: the token check, then the catalog version, the shared entry and
 * the content version together. The cache write is not waited for (the answer is ready). Before,
 * it had four (the content version on its own trip, then the write). A private redis-server, never
 * the shared one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { privateRedisAvailable, startPrivateRedis, type PrivateRedis } from '../helpers/private-services.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { startFaultProxy, type FaultProxy } from './proxy.ts';

// Wide enough that a busy machine's own delays (tens of ms) cannot pass for a round trip or hide one.
const HOLD_MS = 500;
const TRIP_MS = 2 * HOLD_MS;

describe.runIf(privateRedisAvailable)('a built suggestion with Redis far away', () => {
  // The app reaches its own redis-server through the proxy, which delays what it is told to.
  let faraway: { t: TestApp; redis: PrivateRedis; proxy: FaultProxy; customer: TestUser } | undefined;

  beforeAll(async () => {
    const redis = await startPrivateRedis();
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: redis.port });
    // On the primary alone: with read replicas configured, a built entry's read first gets the
    // catalog's last write position from Redis (`catalog:lsn`, read-your-writes on a replica), a
    // third trip, measured by CI's replica runs and not yet folded into the lookup's pipeline.
    const t = await buildTestApp({ redis: false, replicas: false, env: { REDIS_URL: proxy.url(redis.url), REDIS_COMMAND_TIMEOUT_MS: '5000' } });
    faraway = { t, redis, proxy, customer: await createUser(t) };
    const staff = await createUser(t, { staff: true });
    const res = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: 'Gunpowder Green Tea', description: 'Rolled green tea leaves', price: '4.00', quantity: 5 } });
    expect(res.statusCode, res.body).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await faraway?.t.close();
    await faraway?.proxy.close();
    await faraway?.redis.stop();
  });

  const suggest = async (typed: string) => {
    const { t, customer } = faraway!;
    const started = performance.now();
    const res = await t.app.inject({ method: 'GET', url: `/api/catalog/suggest/?q=${encodeURIComponent(typed)}`, headers: customer.auth });
    expect(res.statusCode, res.body).toBe(200);
    return { names: (res.json() as Array<{ name: string }>).map((s) => s.name), ms: performance.now() - started };
  };

  it('answers after two round trips to Redis, not four', async () => {
    // Warm: the words expanded, the connections open.
    expect((await suggest('gunpowder gre')).names).toEqual(['Gunpowder Green Tea']);
    await faraway!.proxy.set({ kind: 'latency', ms: HOLD_MS });
    try {
      // Punctuation changes no word but makes a text never asked: built, not a cache hit.
      for (const typed of ['gunpowder gre.', 'gunpowder gre,']) {
        const { names, ms } = await suggest(typed);
        expect(names).toEqual(['Gunpowder Green Tea']);
        expect(ms, typed).toBeGreaterThanOrEqual(2 * TRIP_MS - 100);
        // Two trips and the statement; a third trip would be 3 s.
        expect(ms, typed).toBeLessThan(3 * TRIP_MS - 100);
      }
    } finally {
      await faraway!.proxy.set({ kind: 'pass' });
    }
  }, 30_000);
});
