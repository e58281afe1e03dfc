/**
 * Redis failing under load (16 customers browsing, holding, ordering): killed -9, paused (CLIENT
 * PAUSE), its connections reset, black-holed. On a private redis-server behind the fault proxy,
 * never the shared one. Each scenario checks the answers (only carts may answer 503, always
 * `unavailable` with Retry-After; never another 5xx), recovery within seconds, the invariants, and
 * that the outage is logged once, not per request (issue 13, defect 3).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/platform/metrics.ts';
import { privateRedisAvailable, startPrivateRedis, type PrivateRedis } from '../helpers/private-services.ts';
import { onRealPostgres } from '../helpers/test-env.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { checkInvariants, openShop, recoveryMs, runLoad, settle, tally, type LoadResult, type Shop } from './load.ts';
import { startFaultProxy, type FaultProxy } from './proxy.ts';
import { recordFigures } from './figures.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.runIf(onRealPostgres && privateRedisAvailable)('Redis faults under load', () => {
  let t: TestApp;
  let redis: PrivateRedis;
  let proxy: FaultProxy;
  let shop: Shop;
  const lines: Array<Record<string, unknown>> = [];
  const placed = new Map<string, string>();

  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });

  beforeAll(async () => {
    redis = await startPrivateRedis();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: redis.port });
    t = await buildTestApp({ redis: false, logStream, env: { REDIS_URL: proxy.url(redis.url), REDIS_COMMAND_TIMEOUT_MS: '300' } });
    shop = await openShop(t);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await redis?.stop();
  });

  /** Cart answers 503 of the recovery probe: the refusal counter counts them too. */
  let probeRefusals = 0;
  const cartAnswers = () =>
    t.app.inject({ method: 'GET', url: '/api/cart/', headers: shop.customers[0]!.auth }).then((r) => {
      if (r.statusCode === 503) probeRefusals++;
      return r.statusCode;
    });

  /** Load for `ms`, the fault from `at` until `until` ms into it; then recovery and the checks. */
  async function scenario(name: string, fault: { at: number; start: () => Promise<void>; end: () => Promise<void>; until: number }, ms = 5000) {
    const load = runLoad(t, shop, { ms });
    await sleep(fault.at);
    await fault.start();
    await sleep(fault.until - fault.at);
    await fault.end();
    const ended = Date.now();
    const result = await load;
    // Recovery: from the fault's end to the first cart answered again, under the load or after it.
    const firstOk = result.answers.find((x) => x.feature === 'cart' && x.status === 200 && x.at >= ended);
    const recovered = firstOk ? firstOk.at - ended : Date.now() - ended + (await recoveryMs(cartAnswers, 200));
    await settle(t, result);
    check(name, result, recovered);
    for (const [key, id] of result.placed) placed.set(key, id);
    return { result };
  }

  function check(name: string, result: LoadResult, recovered: number) {
    const counts = tally(result.answers);
    expect(result.violations).toEqual([]);
    // Only carts need Redis: the catalog, orders and sign-in keep answering without it.
    expect(counts['browse']?.[503] ?? 0).toBe(0);
    expect(counts['order']?.[503] ?? 0).toBe(0);
    expect(counts['sign-in']?.[503] ?? 0).toBe(0);
    expect(counts['sign-in']?.[200] ?? 0).toBeGreaterThan(0);
    expect(recovered).toBeLessThan(5000);
    recordFigures(`redis ${name}`, result, recovered);
  }

  it('killed -9 and restarted: carts 503 meanwhile, the rest unaffected, one log line each way', async () => {
    const from = lines.length;
    const refusedBefore = (await metrics.dependencyRefusals.get()).values.find((v) => v.labels.name === 'redis')?.value ?? 0;
    const probedBefore = probeRefusals;
    const { result } = await scenario('killed', { at: 1000, start: () => redis.kill('SIGKILL'), end: () => redis.restart(), until: 3500 });
    expect(tally(result.answers)['cart']?.[503] ?? 0).toBeGreaterThan(0);
    await checkInvariants(t.database.url!, shop, placed);

    // The recovery line is written when the client reconnects, which on a busy machine can come
    // after the first cart answered again: wait for it (bounded) before counting.
    const deadline = Date.now() + 15_000;
    while (!lines.slice(from).some((l) => l['msg'] === 'redis available again') && Date.now() < deadline) await sleep(100);
    const during = lines.slice(from);
    expect(during.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([]);
    expect(during.filter((l) => (l['level'] as number) >= 50).map((l) => l['msg'])).toEqual(['redis unavailable: requests that need it answer 503']);
    expect(during.filter((l) => l['msg'] === 'redis available again')).toHaveLength(1);
    const refused = (await metrics.dependencyRefusals.get()).values.find((v) => v.labels.name === 'redis')?.value ?? 0;
    expect(refused - refusedBefore).toBe((tally(result.answers)['cart']?.[503] ?? 0) + probeRefusals - probedBefore);
    expect((await metrics.dependencyUp.get()).values.find((v) => v.labels.name === 'redis')?.value).toBe(1);
  });

  it('paused (CLIENT PAUSE): commands time out into 503 for carts, nothing hangs', async () => {
    const { result } = await scenario('paused', { at: 1000, start: () => redis.pause(2500), end: () => sleep(2500), until: 1000 });
    // Nothing waited for the paused server longer than the command timeout and a database read.
    const slowest = Math.max(...result.answers.map((a, i, all) => (i > 0 ? a.at - all[i - 1]!.at : 0)));
    expect(slowest).toBeLessThan(2000);
    await checkInvariants(t.database.url!, shop, placed);
  });

  it('connections reset, then black-holed, then slow: never a 5xx but carts 503, and back', async () => {
    await scenario('reset', { at: 1000, start: () => proxy.set({ kind: 'reset' }), end: () => proxy.set({ kind: 'pass' }), until: 3000 });
    await scenario('black hole', { at: 1000, start: () => proxy.set({ kind: 'blackhole' }), end: () => proxy.set({ kind: 'pass' }), until: 3000 });
    const slow = await scenario('slow (+50 ms)', { at: 500, start: () => proxy.set({ kind: 'latency', ms: 50 }), end: () => proxy.set({ kind: 'pass' }), until: 3500 });
    // 50 ms each way is well under the command timeout: carts keep working, only slower (on a
    // busy 2-core test machine a command queued behind others may still pass its 300 ms deadline:
    // seen 3 of 16 at load average 12, so the bound is most, not all).
    const carts = tally(slow.result.answers)['cart'] ?? {};
    const total = Object.values(carts).reduce((a, b) => a + b, 0);
    expect(carts[200] ?? 0).toBeGreaterThanOrEqual(total * 0.8);
    await checkInvariants(t.database.url!, shop, placed);
  });
});
