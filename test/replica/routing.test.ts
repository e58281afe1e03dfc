/**
 * Read routing against the real streaming replica: a read goes to the replica (proved by pausing
 * its WAL replay and seeing old data), falls back to the primary when the replica is down, and
 * returns to the replica once it is back.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/platform/db.ts';
import { metrics } from '../../src/platform/metrics.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-app.ts';
import { eventually, pauseReplay, replicaExclusive, resumeReplay, startReplica, stopReplica } from './replica-control.ts';

describe.runIf(replicaExclusive)('replica routing (real streaming replica)', () => {
  let t: TestDatabase;
  const count = async (via: 'read' | 'primary') => {
    const q = sql`select count(*)::int as n from public.routing_probe`;
    const rows = via === 'read' ? await t.db.read((db) => queryRows<{ n: number }>(db, q)) : await queryRows<{ n: number }>(t.db.primary, q);
    return rows[0]!.n;
  };
  const replicaReads = async () => (await metrics.dbReads.get()).values.find((v) => v.labels.target === 'replica')?.value ?? 0;

  beforeAll(async () => {
    t = await createTestDatabase({ replicaMaxLagSeconds: 60 });
    await t.db.primary.execute(sql`create table public.routing_probe (x int)`);
    await t.db.primary.execute(sql`insert into public.routing_probe values (1)`);
    // The replica has the table and the row, and the router has seen it healthy.
    await eventually(async () => {
      await t.db.replicas.check();
      return t.db.replicas.status()[0]?.healthy === true ? await count('read').catch(() => -1) : -1;
    }, (n) => n === 1);
  });
  afterAll(async () => {
    await resumeReplay().catch(() => undefined);
    await startReplica();
    await t?.drop();
  });

  it('serves reads from the replica: with replay paused, a new row is not seen', async () => {
    await pauseReplay();
    try {
      await t.db.primary.execute(sql`insert into public.routing_probe values (2)`);
      expect(await count('primary')).toBe(2);
      const before = await replicaReads();
      expect(await count('read')).toBe(1);
      expect(await replicaReads()).toBe(before + 1);
    } finally {
      await resumeReplay();
    }
    expect(await eventually(() => count('read'), (n) => n === 2)).toBe(2);
  });

  it('falls back to the primary while the replica is down, and returns to it after', async () => {
    await stopReplica();
    // Before any health check notices, the read itself falls back.
    expect(await count('read')).toBe(2);
    await t.db.replicas.check();
    expect(t.db.replicas.status()[0]?.healthy).toBe(false);
    expect(await count('read')).toBe(2);

    await startReplica();
    await eventually(async () => {
      await t.db.replicas.check();
      return t.db.replicas.status()[0]?.healthy;
    }, (healthy) => healthy === true, 30_000);
    const before = await replicaReads();
    expect(await count('read')).toBe(2);
    expect(await replicaReads()).toBe(before + 1);
  });

  it('skips a replica that lags beyond the bound', async () => {
    const strict = await createTestDatabase({ replicaMaxLagSeconds: 0 });
    try {
      await strict.db.primary.execute(sql`create table public.lag_probe (x int)`);
      await pauseReplay();
      try {
        await strict.db.primary.execute(sql`insert into public.lag_probe values (1)`);
        await new Promise((r) => setTimeout(r, 1100));
        await strict.db.replicas.check();
        expect(strict.db.replicas.status()[0]).toMatchObject({ healthy: false });
        const rows = await strict.db.read((db) => queryRows<{ n: number }>(db, sql`select count(*)::int as n from public.lag_probe`));
        expect(rows[0]!.n).toBe(1);
      } finally {
        await resumeReplay();
      }
    } finally {
      await strict.drop();
    }
  });
});
