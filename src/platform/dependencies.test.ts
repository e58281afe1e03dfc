/**
 * Which failures are a dependency's (503, reads retried on the primary) and which are bugs (500),
 * on errors as the drivers really produce them; and the outage monitor's one line each way.
 */
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-app.ts';
import { freePort } from '../../test/helpers/private-services.ts';
import { createDependencyMonitor, failedDependency, ranOutOfTime } from './dependencies.ts';
import { metrics } from './metrics.ts';
import { isConnectionError } from './replicas.ts';

describe('failedDependency', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ replicas: false });
  });
  afterAll(() => t?.drop());

  it('sees a refused connection behind drizzle\'s query wrapper (the replica stopped: defect 1)', async () => {
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, connectionTimeoutMillis: 1000 });
    try {
      const error = await drizzle({ client: pool }).execute(sql`select pg_last_wal_replay_lsn() >= ${'0/1'}::pg_lsn as ok`).catch((e: unknown) => e);
      expect(String((error as Error).message)).toMatch(/^Failed query/);
      expect(failedDependency(error)).toBe('database');
      expect(isConnectionError(error)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('leaves a bad query alone, and names timeouts and Redis failures', async () => {
    const bad = await t.db.primary.execute(sql`select * from no_such_table`).catch((e: unknown) => e);
    expect(failedDependency(bad)).toBeUndefined();
    expect(isConnectionError(bad)).toBe(false);
    expect(failedDependency(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))).toBe('database');
    expect(failedDependency(new Error('timeout exceeded when trying to connect'))).toBe('database');
    expect(failedDependency(new Error('Command timed out'))).toBe('redis');
    expect(failedDependency(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('redis');
    expect(failedDependency(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeUndefined();
  });

  it('tells a deadline that ran out (not worth trying again at once) from a broken connection', () => {
    expect(ranOutOfTime(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))).toBe(true);
    expect(ranOutOfTime(Object.assign(new Error('Failed query: select 1'), { cause: new Error('Query read timeout') }))).toBe(true);
    expect(ranOutOfTime(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(ranOutOfTime(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(ranOutOfTime(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(ranOutOfTime(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(false);
  });
});

describe('the dependency monitor', () => {
  it('logs one line when a dependency goes down and one when it is back, and keeps dependency_up', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
          done();
        },
      }),
    );
    let answers = false;
    const monitor = createDependencyMonitor({ logger, probes: {
        redis: async () => {
          if (!answers) throw new Error('down');
        },
      }, probeIntervalMs: 20 });
    try {
      for (let i = 0; i < 50; i++) monitor.failed('redis', new Error('Connection is closed.'));
      expect(monitor.isUp('redis')).toBe(false);
      expect((await metrics.dependencyUp.get()).values.find((v) => v.labels.name === 'redis')?.value).toBe(0);
      answers = true;
      await new Promise((r) => setTimeout(r, 100));
      expect(monitor.isUp('redis')).toBe(true);
      expect((await metrics.dependencyUp.get()).values.find((v) => v.labels.name === 'redis')?.value).toBe(1);
      expect(lines.map((l) => [l.level, l.msg])).toEqual([
        [50, 'redis unavailable: requests that need it answer 503'],
        [30, 'redis available again'],
      ]);
      expect(JSON.stringify(lines)).not.toContain('stack');
    } finally {
      monitor.close();
    }
  });
});
