/**
 * The read replica failing under load, through the fault proxy in front of the machine's replica
 * (the replica itself is never stopped here): refusing connections as a stopped server does,
 * resetting them, black-holed, slow. Catalog reads must never answer a 5xx — they fall back to the
 * primary — and go back to the replica once it answers again (issue 13, defect 1: a connection
 * refused on the replay check was not seen as a connection failure, and answered 500).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/platform/metrics.ts';
import { onRealPostgres, testReplicaUrls } from '../helpers/test-env.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { recordFigures } from './figures.ts';
import { checkInvariants, openShop, runLoad, settle, tally, type Shop } from './load.ts';
import { startFaultProxy, type Fault, type FaultProxy } from './proxy.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.runIf(onRealPostgres && testReplicaUrls.length > 0)('replica faults under load', () => {
  let t: TestApp;
  let proxy: FaultProxy;
  let shop: Shop;
  /** The machine's replica may be down (another run's exclusive replica step stops it): then there is nothing to fault. */
  let replicaUp = false;
  const placed = new Map<string, string>();
  const replicaReads = async () => (await metrics.dbReads.get()).values.find((v) => v.labels.target === 'replica')?.value ?? 0;

  beforeAll(async () => {
    const target = new URL(testReplicaUrls[0]!);
    proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) });
    t = await buildTestApp({
      via: { replica: (url) => proxy.url(url) },
      deadlines: { statementMs: 1000, queryMs: 2500, connectMs: 1000, idleInTransactionMs: 2000 },
      replicaMaxLagSeconds: 30,
    });
    shop = await openShop(t);
    replicaUp = (await backOnReplica(15_000)) < Infinity;
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  /** Until the router has seen the replica healthy again and a read went to it. */
  async function backOnReplica(timeoutMs = 10_000): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (t.services.db.replicas.status()[0]?.healthy) {
        const before = await replicaReads();
        await t.app.inject({ method: 'GET', url: `/api/catalog/products/?search=back&limit=${Math.ceil(Math.random() * 90)}`, headers: shop.customers[0]!.auth });
        if ((await replicaReads()) > before) return Date.now() - start;
      }
      await sleep(100);
    }
    return Infinity;
  }

  async function underFault(name: string, fault: Fault) {
    const load = runLoad(t, shop, { ms: 4500, features: ['browse', 'browse', 'browse', 'browse', 'cart', 'order'] });
    await sleep(1000);
    await proxy.set(fault);
    await sleep(2500);
    await proxy.set({ kind: 'pass' });
    const result = await load;
    const recovered = await backOnReplica();
    await settle(t, result);
    expect(result.violations).toEqual([]);
    // No 5xx of any kind: nothing here needs the replica, the primary serves every read.
    expect(result.answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(tally(result.answers)['browse']?.[200] ?? 0).toBeGreaterThan(50);
    expect(recovered).toBeLessThan(5000);
    for (const [key, id] of result.placed) placed.set(key, id);
    recordFigures(`replica ${name}`, result, recovered);
  }

  it('refuses connections (a stopped replica) and resets them: reads fall back to the primary, no 5xx', async (ctx) => {
    if (!replicaUp) ctx.skip();
    await underFault('refused (down)', { kind: 'refuse' });
    await underFault('reset', { kind: 'reset' });
  });

  it('black-holed (a paused or unreachable replica), then slow (+100 ms): no 5xx, back on the replica after', async (ctx) => {
    if (!replicaUp) ctx.skip();
    await underFault('black hole', { kind: 'blackhole' });
    await underFault('slow (+100 ms)', { kind: 'latency', ms: 100 });
    await checkInvariants(t.database.url!, shop, placed);
  });
});
