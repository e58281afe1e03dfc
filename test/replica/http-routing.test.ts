/**
 * Issue 7's proof at the HTTP edge, on the real streaming replica: with WAL replay paused, a
 * product created on the primary is absent from the customer's catalog list (the list came from
 * the replica), while the order the customer just placed is in their history and detail (orders
 * read the primary). With the replica stopped, catalog reads still answer, and go back to the
 * replica once it is up again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/platform/metrics.ts';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { newId } from '../../src/platform/ids.ts';
import { sql } from '../../src/platform/db.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { eventually, pauseReplay, replicaExclusive, resumeReplay, startReplica, stopReplica } from './replica-control.ts';

describe.runIf(replicaExclusive)('read routing at the HTTP edge (real streaming replica)', () => {
  let t: TestApp;
  let customer: TestUser;

  // A product written straight to the primary, past the catalog service: a write through the
  // service records its WAL position, and catalog reads then wait for the replica to replay it
  // (read-your-writes for staff), which would hide the routing this test is about.
  const productOnPrimary = async (name: string) => {
    const id = newId();
    await t.services.db.primary.execute(sql`insert into catalog.products (id, name, price_cents, stock) values (${id}, ${name}, 1000, 10)`);
    return { id, name };
  };
  // Each call is a query never asked before (its own `limit`), so no cached page answers it.
  let variant = 0;
  const searchCount = async (name: string) => {
    const limit = (variant++ % 100) + 1;
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/catalog/products/?search=${encodeURIComponent(name)}&limit=${limit}`,
      headers: customer.auth,
    });
    expect(res.statusCode).toBe(200);
    // Results, not `count`: counts are cached per filter set for up to a minute by design.
    return (res.json().results as unknown[]).length;
  };
  const replicaReads = async () => (await metrics.dbReads.get()).values.find((v) => v.labels.target === 'replica')?.value ?? 0;

  beforeAll(async () => {
    t = await buildTestApp({ replicaMaxLagSeconds: 60 });
    customer = await createUser(t);
    const warmup = await productOnPrimary(`warmup-${Date.now()}`);
    expect(await eventually(() => searchCount(warmup.name), (n) => n === 1)).toBe(1);
  });
  afterAll(async () => {
    await resumeReplay().catch(() => undefined);
    await startReplica();
    await t?.close();
  });

  it('lists from the replica, yet shows the customer their own order at once', async () => {
    const stocked = await productOnPrimary(`stocked-${Date.now()}`);
    await eventually(() => searchCount(stocked.name), (n) => n === 1);
    await pauseReplay();
    let orderId: string;
    const fresh = await productOnPrimary(`fresh-${Date.now()}`);
    try {
      const before = await replicaReads();
      expect(await searchCount(fresh.name)).toBe(0);
      expect(await replicaReads()).toBeGreaterThan(before);

      const placed = await t.app.inject({
        method: 'POST',
        url: '/api/orders/orders/',
        headers: customer.auth,
        payload: { order_items: [{ product: stocked.id, quantity: 1 }] },
      });
      expect(placed.statusCode).toBe(201);
      orderId = placed.json().id;
      const history = await t.app.inject({ method: 'GET', url: '/api/orders/orders/', headers: customer.auth });
      expect(history.json().results.map((o: { id: string }) => o.id)).toContain(orderId);
      const detail = await t.app.inject({ method: 'GET', url: `/api/orders/orders/${orderId}/`, headers: customer.auth });
      expect(detail.statusCode).toBe(200);
    } finally {
      await resumeReplay();
    }
    expect(await eventually(() => searchCount(fresh.name), (n) => n === 1)).toBe(1);
  });

  it('answers catalog reads with the replica stopped, and uses it again once it is back', async () => {
    const product = await productOnPrimary(`outage-${Date.now()}`);
    await eventually(() => searchCount(product.name), (n) => n === 1);
    await stopReplica();
    expect(await searchCount(product.name)).toBe(1);
    expect(await searchCount(product.name)).toBe(1);

    await startReplica();
    await eventually(async () => {
      await t.services.db.replicas.check();
      return t.services.db.replicas.status()[0]?.healthy;
    }, (healthy) => healthy === true, 30_000);
    const before = await replicaReads();
    expect(await searchCount(product.name)).toBe(1);
    expect(await replicaReads()).toBeGreaterThan(before);
  });
});
