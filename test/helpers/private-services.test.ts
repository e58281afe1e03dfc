/** The private servers the fault tests rely on behave as a crash, a pause and a stop really do. */
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { privatePostgresAvailable, privateRedisAvailable, startPrivatePostgres, startPrivateRedis } from './private-services.ts';

describe.runIf(privateRedisAvailable)('private Redis', () => {
  it('keeps an acknowledged write through kill -9 with appendfsync always, and pauses clients', async () => {
    const redis = await startPrivateRedis({ appendonly: true });
    try {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      await client.set('k', 'v');
      client.disconnect();
      await redis.kill('SIGKILL');
      await redis.restart();
      const again = new Redis(redis.url);
      expect(await again.get('k')).toBe('v');
      await redis.pause(300);
      const started = Date.now();
      await again.get('k');
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
      again.disconnect();
    } finally {
      await redis.stop();
    }
  });
});

describe.runIf(privatePostgresAvailable)('private PostgreSQL', () => {
  it('refuses connections while stopped and serves again after start', async () => {
    const server = await startPrivatePostgres();
    const query = async () => {
      const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 1000 });
      await client.connect();
      try {
        return (await client.query<{ one: number }>('select 1 as one')).rows[0]!.one;
      } finally {
        await client.end();
      }
    };
    try {
      expect(await query()).toBe(1);
      await server.stop();
      await expect(query()).rejects.toThrow(/ECONNREFUSED/);
      await server.start();
      expect(await query()).toBe(1);
    } finally {
      await server.destroy();
    }
  }, 60_000);
});
