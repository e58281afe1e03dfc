/**
 * The Redis client's turn batching (kv.ts): commands of one event-loop turn leave in one write and
 * MGETs of one turn are one MGET; every caller still gets its own answer. Real Redis only.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../../test/helpers/test-env.ts';
import { createRedisClient, createRedisStore, deleteKeysWithPrefix, waitForRedis, type KeyValueStore } from './kv.ts';

describe.runIf(testRedisUrl)('Redis key-value store, batched per turn', () => {
  const prefix = `test:kv:${randomUUID()}:`;
  let redis: Redis;
  let kv: KeyValueStore;
  beforeAll(async () => {
    // A single-node client (no REDIS_CLUSTER): MONITOR watches its one connection.
    redis = createRedisClient(testRedisUrl!, prefix) as Redis;
    await waitForRedis(redis);
    kv = createRedisStore(redis);
    await Promise.all([kv.set('a', '1'), kv.set('b', '2'), kv.set('c', '3')]);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeysWithPrefix(testRedisUrl!, prefix);
  });

  it('gives each of many reads in one turn its own values, in its own order', async () => {
    const reads = await Promise.all([kv.mget(['a', 'b']), kv.mget(['c', 'missing', 'a']), kv.mget(['b']), kv.mget([]), kv.get('c')]);
    expect(reads).toEqual([['1', '2'], ['3', null, '1'], ['2'], [], '3']);
  });

  it('sends the reads of one turn as one MGET of their distinct keys', async () => {
    const monitor = await redis.monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.startsWith(prefix))) seen.push(args);
    });
    // MONITOR starts reporting once its reply is in; a command of ours proves it is.
    await kv.get('a');
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    seen.length = 0;
    const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => kv.mget(i % 2 ? ['a', 'b'] : ['b', 'c'])));
    expect(reads.slice(0, 2)).toEqual([['2', '3'], ['1', '2']]);
    await kv.get('c');
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 10));
    monitor.disconnect();
    expect(seen[0]!.map((a) => a.toLowerCase().replace(prefix, ''))).toEqual(['mget', 'b', 'c', 'a']);
  });

  it('sends a very large turn as several MGETs, answering every caller', async () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `many:${i}`);
    await redis.mset(Object.fromEntries(keys.map((k, i) => [k, String(i)])));
    const monitor = await redis.monitor();
    const sizes: number[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'mget' && args[1]?.startsWith(`${prefix}many:`)) sizes.push(args.length - 1);
    });
    await new Promise((r) => setTimeout(r, 50));
    const reads = await Promise.all(Array.from({ length: 150 }, (_, r) => kv.mget(keys.slice(r * 20, r * 20 + 20))));
    expect(reads.flat()).toEqual(keys.map((_, i) => String(i)));
    while (sizes.reduce((a, b) => a + b, 0) < 3000) await new Promise((r) => setTimeout(r, 10));
    monitor.disconnect();
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(2000);
  });

  it('keeps writes and reads of one turn in order', async () => {
    const [, , value, , again] = await Promise.all([kv.set('d', 'x'), kv.incr('n'), kv.get('d'), kv.set('d', 'y'), kv.mget(['d', 'n'])]);
    expect(value).toBe('x');
    expect(again).toEqual(['y', '1']);
  });

  it('fails every read of a turn when Redis cannot be reached', async () => {
    const lost = createRedisClient(testRedisUrl!, prefix);
    await waitForRedis(lost);
    const store = createRedisStore(lost);
    lost.disconnect();
    const reads = await Promise.allSettled([store.mget(['a']), store.mget(['b', 'c'])]);
    expect(reads.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
