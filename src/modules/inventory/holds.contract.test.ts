/**
 * One contract, two hold stores: the in-process one always, the Redis one when TEST_REDIS_URL is
 * set (under a key prefix of this file's own, removed afterwards).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, createRedisStore, deleteKeysWithPrefix, waitForRedis, type RedisClient } from '../../platform/kv.ts';
import { privateRedisClusterAvailable, startPrivateRedisCluster, type PrivateRedisCluster } from '../../../test/helpers/private-services.ts';
import { testRedisUrl } from '../../../test/helpers/test-env.ts';
import type { HoldLine, HoldStore } from './holds.ts';
import { createMemoryHoldStore } from './holds-memory.ts';
import { createRedisHoldStore } from './holds-redis.ts';

const line = (productId: string, quantity: number, stock = 10, version = 1): HoldLine => ({ productId, quantity, stock, version });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function contract(name: string, open: () => Promise<{ store: HoldStore; close(): Promise<void> }>) {
  describe(`hold store contract: ${name}`, () => {
    let store: HoldStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(() => close());
    const id = () => randomUUID();

    it('holds units that others then cannot take, while the holder still can', async () => {
      const p = id();
      expect(await store.setHolds('a', [line(p, 7)], 60)).toMatchObject({ ok: true });
      expect((await store.heldUnits([p])).get(p)).toBe(7);
      expect((await store.heldUnits([p], 'a')).get(p)).toBe(0);
      expect(await store.setHolds('b', [line(p, 4)], 60)).toEqual({ ok: false, reason: 'insufficient', short: [{ productId: p, requested: 4, available: 3 }] });
      expect(await store.setHolds('b', [line(p, 3)], 60)).toMatchObject({ ok: true });
      // The holder's own units count as available to it: it may grow into nothing but its own.
      expect(await store.setHolds('a', [line(p, 7)], 60)).toMatchObject({ ok: true });
      expect(await store.setHolds('a', [line(p, 8)], 60)).toMatchObject({ ok: false, reason: 'insufficient' });
      await store.release('a');
      await store.release('b');
    });

    it('holds all lines or none', async () => {
      const [p, q] = [id(), id()];
      const result = await store.setHolds('h', [line(p, 2), line(q, 11)], 60);
      expect(result).toEqual({ ok: false, reason: 'insufficient', short: [{ productId: q, requested: 11, available: 10 }] });
      expect(await store.heldUnits([p, q])).toEqual(new Map([[p, 0], [q, 0]]));
      expect((await store.holdsOf('h')).lines.size).toBe(0);
    });

    it('sets, shrinks and drops lines, and lists what the holder holds with its expiry', async () => {
      const [p, q] = [id(), id()];
      const holder = id();
      const first = await store.setHolds(holder, [line(p, 2)], 60);
      await store.setHolds(holder, [line(q, 5)], 60);
      await store.setHolds(holder, [line(p, 1)], 60);
      const holding = await store.holdsOf(holder);
      expect(holding.lines).toEqual(new Map([[p, 1], [q, 5]]));
      expect(first.ok && holding.expiresAt! >= first.expiresAt).toBe(true);
      await store.setHolds(holder, [line(q, 0)], 60);
      expect((await store.holdsOf(holder)).lines).toEqual(new Map([[p, 1]]));
      expect((await store.heldUnits([p, q])).get(q)).toBe(0);
      await store.release(holder, [p]);
      expect(await store.holdsOf(holder)).toEqual({ lines: new Map(), expiresAt: null });
    });

    it('shrinking never fails, even when the stock fell below the hold', async () => {
      const p = id();
      await store.setHolds('s', [line(p, 5, 10, 1)], 60);
      expect(await store.setHolds('s', [line(p, 4, 2, 2)], 60)).toMatchObject({ ok: true });
      await store.release('s');
    });

    it('refuses going over the per-holder cap, and still lets a capped holder shrink', async () => {
      const [p, q] = [id(), id()];
      expect(await store.setHolds('c', [line(p, 3)], 60, { maxUnitsTotal: 5 })).toMatchObject({ ok: true });
      expect(await store.setHolds('c', [line(q, 3)], 60, { maxUnitsTotal: 5 })).toEqual({ ok: false, reason: 'cap', limit: 5, total: 6 });
      expect(await store.setHolds('c', [line(q, 2)], 60, { maxUnitsTotal: 5 })).toMatchObject({ ok: true });
      expect(await store.setHolds('c', [line(p, 1)], 60, { maxUnitsTotal: 5 })).toMatchObject({ ok: true });
      await store.release('c');
    });

    it('keeps the newer of the mirror and the stock a caller read: a lagging read cannot over-promise', async () => {
      const p = id();
      await store.setHolds('m1', [line(p, 1, 10, 5)], 60);
      // An order committed stock 10 → 3 at version 6; a caller that read version 5 still sees 3.
      await store.commit('m1', [{ productId: p, stock: 3, version: 6 }]);
      expect(await store.setHolds('m2', [line(p, 4, 10, 5)], 60)).toMatchObject({ ok: false, short: [{ available: 3 }] });
      // A newer read (a restock at version 7) moves the mirror forward.
      expect(await store.setHolds('m2', [line(p, 4, 20, 7)], 60)).toMatchObject({ ok: true });
      await store.release('m2');
    });

    it('commit drops every hold of the holder', async () => {
      const [p, q] = [id(), id()];
      await store.setHolds('o', [line(p, 2), line(q, 3)], 60);
      await store.commit('o', [{ productId: p, stock: 8, version: 2 }]);
      expect(await store.heldUnits([p, q])).toEqual(new Map([[p, 0], [q, 0]]));
      expect((await store.holdsOf('o')).lines.size).toBe(0);
    });

    it('commit with spent lines takes off only the units ordered; what the holder gained since stays', async () => {
      const [p, q, r] = [id(), id(), id()];
      const holder = id();
      await store.setHolds(holder, [line(p, 1), line(q, 2)], 60);
      // Gained after the checkout read {p: 1, q: 2}: a new line r, and one more unit of q.
      await store.setHolds(holder, [line(r, 1)], 60);
      await store.setHolds(holder, [line(q, 3)], 60);
      await store.commit(holder, [{ productId: p, stock: 9, version: 2 }, { productId: q, stock: 8, version: 2 }], [
        { productId: p, quantity: 1 },
        { productId: q, quantity: 2 },
      ]);
      expect((await store.holdsOf(holder)).lines).toEqual(new Map([[q, 1], [r, 1]]));
      expect(await store.heldUnits([p, q, r])).toEqual(new Map([[p, 0], [q, 1], [r, 1]]));
      await store.commit(holder, [], [{ productId: q, quantity: 1 }, { productId: r, quantity: 1 }]);
      expect((await store.holdsOf(holder)).lines.size).toBe(0);
      expect(await store.heldUnits([q, r])).toEqual(new Map([[q, 0], [r, 0]]));
    });

    it('every change refreshes the expiry of all the holder\'s holds', async () => {
      const [p, q] = [id(), id()];
      await store.setHolds('r', [line(p, 1)], 1);
      await sleep(600);
      await store.setHolds('r', [line(q, 1)], 1);
      await sleep(600);
      // p was held 1.2 s ago with a 1 s TTL, but the change to q moved its expiry too.
      expect((await store.heldUnits([p])).get(p)).toBe(1);
      await store.release('r');
    });

    it('caps a holder\'s expiry at its lifetime from its first hold, however often it changes; one that held nothing starts afresh', async () => {
      const [p, q] = [id(), id()];
      const life = { maxLifetimeSeconds: 5 };
      const before = Date.now();
      const first = await store.setHolds('life', [line(p, 1)], 60, life);
      if (!first.ok) throw new Error('not held');
      // min(now + 60 s, start + 5 s): the lifetime, not the TTL.
      expect(first.expiresAt).toBeGreaterThanOrEqual(before + 5000 - 1000);
      expect(first.expiresAt).toBeLessThanOrEqual(Date.now() + 5000 + 1000);
      // Later changes, to the line or to another product, keep the first hold's start.
      for (const change of [[line(p, 2)], [line(q, 1)], [line(q, 0)]]) {
        expect(await store.setHolds('life', change, 60, life)).toMatchObject({ ok: true, expiresAt: first.expiresAt });
      }
      expect((await store.holdsOf('life')).expiresAt).toBe(first.expiresAt);
      // Without the option the store does what it always did: now + ttl.
      const plain = await store.setHolds('plain', [line(q, 1)], 60);
      expect(plain.ok && plain.expiresAt).toBeGreaterThan(first.expiresAt + 50_000);
      // Released (a cleared cart): the next hold starts a lifetime of its own.
      await store.release('life');
      const fresh = await store.setHolds('life', [line(p, 1)], 4, life);
      // Its start is the fresh hold's own moment (to the millisecond): its TTL ended it 4 s on, the cap 5 s on.
      const renewed = await store.setHolds('life', [line(p, 2)], 60, life);
      expect(renewed.ok && fresh.ok && renewed.expiresAt - fresh.expiresAt).toBe(1000);
      await Promise.all([store.release('life'), store.release('plain')]);
    });

    it('expired holds free their units with nothing running, and are cleaned up', async () => {
      const p = id();
      await store.setHolds('x', [line(p, 10)], 1);
      expect(await store.setHolds('y', [line(p, 1)], 60)).toMatchObject({ ok: false });
      await sleep(1100);
      expect((await store.heldUnits([p])).get(p)).toBe(0);
      expect(await store.holdsOf('x')).toEqual({ lines: new Map(), expiresAt: null });
      expect(await store.setHolds('y', [line(p, 10)], 60)).toMatchObject({ ok: true });
      await store.release('y');
    });

    it('counts a product\'s holds down as each one expires, with nothing else touching it', async () => {
      const p = id();
      await store.setHolds('early', [line(p, 3)], 1);
      await store.setHolds('late', [line(p, 2)], 3);
      expect((await store.heldUnits([p])).get(p)).toBe(5);
      await sleep(1100);
      // Twice: the first read finds the earliest hold expired, the second the renewed count.
      expect((await store.heldUnits([p])).get(p)).toBe(2);
      expect((await store.heldUnits([p])).get(p)).toBe(2);
      expect((await store.heldUnits([p], 'late')).get(p)).toBe(0);
      await store.release('late');
      expect((await store.heldUnits([p])).get(p)).toBe(0);
    });

    it('frees a product whose holder\'s expiry was moved earlier by a change to another line', async () => {
      const [p, q] = [id(), id()];
      await store.setHolds('shorter', [line(p, 1), line(q, 2)], 60);
      await store.setHolds('shorter', [line(p, 3)], 1);
      expect((await store.heldUnits([p, q])).get(q)).toBe(2);
      await sleep(1100);
      expect(await store.heldUnits([p, q])).toEqual(new Map([[p, 0], [q, 0]]));
    });

    it('lets exactly the stock be held when many holders race', async () => {
      const p = id();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.setHolds(`race-${i}`, [line(p, 1)], 60)));
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect((await store.heldUnits([p])).get(p)).toBe(10);
    });

    it('sums a product named twice in one request', async () => {
      const p = id();
      expect(await store.setHolds('d', [line(p, 6), line(p, 5)], 60)).toMatchObject({ ok: false, short: [{ requested: 11 }] });
      await store.setHolds('d', [line(p, 3), line(p, 2)], 60);
      expect((await store.holdsOf('d')).lines.get(p)).toBe(5);
      await store.release('d');
    });
  });
}

contract('in-process', async () => {
  const store = createMemoryHoldStore();
  return { store, close: () => store.close() };
});

describe.runIf(testRedisUrl)('Redis', () => {
  const prefix = `test:holds:${randomUUID()}:`;
  let redis: RedisClient;
  // The tests after the contract write under the prefix too; their keys go at the end.
  afterAll(() => deleteKeysWithPrefix(testRedisUrl!, prefix));
  contract('Redis', async () => {
    redis = createRedisClient(testRedisUrl!, prefix);
    await waitForRedis(redis);
    return {
      store: createRedisHoldStore(redis),
      close: async () => {
        redis.disconnect();
        await deleteKeysWithPrefix(testRedisUrl!, prefix);
      },
    };
  });

  it('reads a key-value counter with the held units in one command, starting it when missing', async () => {
    const client = createRedisClient(testRedisUrl!, prefix);
    await waitForRedis(client);
    try {
      const store = createRedisHoldStore(client);
      const kv = createRedisStore(client);
      const [p, q, counterKey] = [randomUUID(), randomUUID(), `counter:${randomUUID()}`];
      await store.setHolds('counter-holder', [line(p, 4)], 60);
      expect(await store.heldUnitsWithCounter!([p, q, p], counterKey)).toEqual({ counter: '1', held: new Map([[p, 4], [q, 0]]) });
      // The same key the key-value store reads and moves.
      expect(await kv.get(counterKey)).toBe('1');
      await kv.incr(counterKey);
      expect((await store.heldUnitsWithCounter!([p], counterKey)).counter).toBe('2');
      await store.release('counter-holder');
      await kv.del(counterKey);
    } finally {
      client.disconnect();
    }
  });

  it('leaves no summary behind once a product\'s last hold has expired and been read', async () => {
    const client = createRedisClient(testRedisUrl!, prefix);
    await waitForRedis(client);
    try {
      const store = createRedisHoldStore(client);
      const p = randomUUID();
      await store.setHolds('fleeting-1', [line(p, 1)], 1);
      await store.setHolds('fleeting-2', [line(p, 2)], 2);
      expect(await client.get(`hold:t:${p}`)).toMatch(/^3:\d+$/);
      await sleep(2100);
      expect((await store.heldUnits([p])).get(p)).toBe(0);
      expect(await client.exists(`hold:t:${p}`)).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('keeps every key under the client prefix', async () => {
    const cleaner = createRedisClient(testRedisUrl!, '');
    await waitForRedis(cleaner);
    expect(await cleaner.keys('hold:*')).toEqual([]);
    cleaner.disconnect();
  });
});

// The same contract on a real 3-master Redis Cluster, under a hash-tagged prefix (what MemoryDB
// runs with REDIS_CLUSTER=true): every script's keys share one slot, so none is CROSSSLOT.
// Run alone (TEST_REDIS_CLUSTER=1, a CI step of its own): six redis-server processes.
describe.runIf(privateRedisClusterAvailable && process.env.TEST_REDIS_CLUSTER === '1')('Redis Cluster', () => {
  const prefix = `{test:holds:${randomUUID()}}:`;
  let cluster: PrivateRedisCluster;
  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
  }, 120_000); // waitUntilOk's 60 s, and the six servers' start on a busy machine
  afterAll(() => cluster?.stop());
  contract('Redis Cluster', async () => {
    const redis = createRedisClient(cluster.url, prefix, undefined, { cluster: true, commandTimeoutMs: 5000 });
    await waitForRedis(redis, 30_000);
    return {
      store: createRedisHoldStore(redis),
      close: async () => {
        redis.disconnect();
        await deleteKeysWithPrefix(cluster.url, prefix, { cluster: true });
      },
    };
  });

  it('removes every key of a prefix, whichever master holds it', async () => {
    const client = createRedisClient(cluster.url, '', undefined, { cluster: true, commandTimeoutMs: 5000 });
    await waitForRedis(client, 30_000);
    try {
      // No hash tag: these land on different masters.
      const loose = `test:loose:${randomUUID()}:`;
      const keys = Array.from({ length: 30 }, (_, i) => `${loose}${i}`);
      await Promise.all(keys.map((key) => client.set(key, '1')));
      const slotsOwners = new Set(await Promise.all(keys.map(async (key) => String(await client.call('CLUSTER', 'KEYSLOT', key)))));
      expect(slotsOwners.size).toBeGreaterThan(1);
      await deleteKeysWithPrefix(cluster.url, loose, { cluster: true });
      expect(await Promise.all(keys.map((key) => client.exists(key)))).toEqual(keys.map(() => 0));
    } finally {
      client.disconnect();
    }
  });
});
