/** Which Redis servers flash-sale mode accepts, asked of real servers configured each way. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, privateRedisAvailable, startPrivateRedis, type PrivateRedis, type PrivateRedisOptions } from '../../../../test/helpers/private-services.ts';
import { testRedisUrl } from '../../../../test/helpers/test-env.ts';
import { parseRedisDurability, RedisDurabilityError } from '../../../platform/redis-durability-setting.ts';
import { checkProductionLive } from '../../../platform/production-check.ts';
import { assertAsyncOrdersStore, redisDurability } from './durability.ts';

const clients: Redis[] = [];
function connect(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}
afterAll(() => clients.forEach((c) => c.disconnect()));

const NO_CONFIG = ['--rename-command', 'CONFIG', ''];

describe.runIf(privateRedisAvailable)('redisDurability on real Redis servers', () => {
  const servers: Record<string, PrivateRedis> = {};
  const kinds: Record<string, PrivateRedisOptions> = {
    always: { appendonly: true, appendfsync: 'always' },
    everysec: { appendonly: true, appendfsync: 'everysec' },
    snapshotsOnly: { appendonly: false },
    managedAlways: { appendonly: true, appendfsync: 'always', args: NO_CONFIG },
    managedNone: { appendonly: false, args: NO_CONFIG },
  };
  beforeAll(async () => {
    await Promise.all(Object.entries(kinds).map(async ([name, options]) => (servers[name] = await startPrivateRedis(options))));
  }, 30_000);
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  });
  const on = (name: string) => connect(servers[name]!.url);

  it('accepts appendonly yes with appendfsync always, and the start-up guard lets it through', async () => {
    expect(await redisDurability(on('always'))).toEqual({ durable: true, detail: expect.stringMatching(/appendfsync always/) });
    await expect(assertAsyncOrdersStore({ ordersMode: 'async', redisUrl: servers.always!.url }, on('always'))).resolves.toBeUndefined();
  });

  it("gives check:production its row: passes appendfsync always, refuses everysec", async () => {
    const durability = async (url: string) =>
      (await checkProductionLive({ ORDERS_MODE: 'async', REDIS_URL: url }, redisDurability)).find((r) => r.name === 'Redis durability');
    expect(await durability(servers.always!.url)).toMatchObject({ ok: true, detail: expect.stringMatching(/appendfsync always/) });
    expect(await durability(servers.everysec!.url)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/async orders could be lost: appendonly yes but appendfsync everysec.*set appendfsync always/),
    });
  });

  it('waits for a client that is still connecting, as the app\'s clients are at start-up', async () => {
    // The app's clients have no offline queue: a command sent before the connection is up fails.
    const client = new Redis(servers.always!.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    clients.push(client);
    expect(client.status).not.toBe('ready');
    await expect(assertAsyncOrdersStore({ ordersMode: 'async', redisUrl: servers.always!.url }, client)).resolves.toBeUndefined();
  });

  it('refuses appendfsync everysec and a Redis without an append-only file, saying what to set', async () => {
    expect(await redisDurability(on('everysec'))).toEqual({ durable: false, detail: expect.stringMatching(/appendfsync everysec.*set appendfsync always/) });
    expect(await redisDurability(on('snapshotsOnly'))).toEqual({ durable: false, detail: expect.stringMatching(/appendonly no.*appendonly yes and appendfsync always/) });
    await expect(assertAsyncOrdersStore({ ordersMode: 'async', redisUrl: servers.everysec!.url }, on('everysec'))).rejects.toThrow(
      /ORDERS_MODE=async refuses this Redis.*appendfsync everysec/,
    );
  });

  it('counts a Redis without CONFIG as not durable, even with an append-only file on', async () => {
    const withAof = await redisDurability(on('managedAlways'));
    expect(withAof).toEqual({ durable: false, detail: expect.stringMatching(/CONFIG is unavailable.*append-only file is on.*REDIS_DURABILITY=memorydb/) });
    expect((await redisDurability(on('managedNone'))).detail).toMatch(/reports no append-only file/);
  });

  it('counts a user whom an ACL denies CONFIG the same way', async () => {
    const admin = on('always');
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-password', '~*', '&*', '+@all', '-config');
    const url = new URL(servers.always!.url);
    url.username = 'app';
    url.password = 'app-password';
    expect(await redisDurability(connect(url.toString()))).toEqual({ durable: false, detail: expect.stringMatching(/CONFIG is unavailable/) });
  });

  it('trusts REDIS_DURABILITY=memorydb only where CONFIG is unavailable and the host is not ElastiCache', async () => {
    expect(await redisDurability(on('managedNone'), { setting: 'memorydb', url: 'rediss://clustercfg.orders.abc123.memorydb.eu-west-1.amazonaws.com:6379' })).toEqual({
      durable: true,
      detail: expect.stringMatching(/Amazon MemoryDB/),
    });
    const elastiCache = await redisDurability(on('managedNone'), { setting: 'memorydb', url: 'rediss://master.cache1.abc123.euw1.cache.amazonaws.com:6379' });
    expect(elastiCache).toEqual({ durable: false, detail: expect.stringMatching(/ElastiCache host/) });
    // A server that answers CONFIG is not MemoryDB: its own settings decide.
    expect(await redisDurability(on('everysec'), { setting: 'memorydb' })).toEqual({ durable: false, detail: expect.stringMatching(/answers CONFIG.*appendfsync everysec/) });
    await expect(
      assertAsyncOrdersStore({ ordersMode: 'async', redisUrl: servers.managedNone!.url, redisDurability: 'memorydb' }, on('managedNone')),
    ).resolves.toBeUndefined();
  });
});

describe.runIf(testRedisUrl !== undefined)('redisDurability on the shared test Redis', () => {
  it('refuses it: it runs without persistence', async () => {
    const result = await redisDurability(connect(testRedisUrl!));
    expect(result.durable).toBe(false);
    await expect(assertAsyncOrdersStore({ ordersMode: 'async', redisUrl: testRedisUrl }, connect(testRedisUrl!))).rejects.toThrow(RedisDurabilityError);
  });
});

describe('redisDurability without a server, and the settings', () => {
  it('reports a Redis that does not answer as not durable', async () => {
    const client = connect(`redis://127.0.0.1:${await freePort()}`);
    expect(await redisDurability(client)).toEqual({ durable: false, detail: expect.stringMatching(/could not ask Redis/) });
  });

  it('refuses async mode without REDIS_URL and checks nothing in sync mode', async () => {
    await expect(assertAsyncOrdersStore({ ordersMode: 'async', redisUrl: undefined }, undefined)).rejects.toThrow(/ORDERS_MODE=async needs REDIS_URL/);
    await expect(assertAsyncOrdersStore({ ordersMode: 'sync', redisUrl: undefined }, undefined)).resolves.toBeUndefined();
    await expect(assertAsyncOrdersStore({ ordersMode: undefined, redisUrl: undefined }, undefined)).resolves.toBeUndefined();
  });

  it('parses REDIS_DURABILITY', () => {
    expect(parseRedisDurability(undefined)).toBe('verify');
    expect(parseRedisDurability('')).toBe('verify');
    expect(parseRedisDurability(' MemoryDB ')).toBe('memorydb');
    expect(() => parseRedisDurability('elasticache')).toThrow(/REDIS_DURABILITY must be one of verify, memorydb \(is "elasticache"\)/);
  });
});
