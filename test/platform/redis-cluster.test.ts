/**
 * The app on a real Redis Cluster (REDIS_CLUSTER=true, a hash-tagged prefix), as on Amazon
 * MemoryDB: a private cluster of 3 masters with a replica each. Carts hold stock through the Lua
 * scripts, checkout commits, the outbox relays to its stream, and a master failing over (CLUSTER
 * FAILOVER on its replica, so the old master answers MOVED) changes nothing a customer sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, stockOf } from '../helpers/catalog-factory.ts';
import { privateRedisClusterAvailable, startPrivateRedisCluster, type PrivateRedisCluster, type PrivateRedisClusterNode } from '../helpers/private-services.ts';
import { onRealPostgres } from '../helpers/test-env.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ask(node: PrivateRedisClusterNode, ...args: string[]): Promise<unknown> {
  const client = node.client();
  try {
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

/** Every key of the cluster under `prefix`, from every master. */
async function keysUnder(cluster: PrivateRedisCluster, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const node of cluster.nodes) {
    const role = (await ask(node, 'ROLE')) as [string];
    if (role[0] === 'master') keys.push(...((await ask(node, 'KEYS', `${prefix}*`)) as string[]));
  }
  return keys;
}

// Run alone (TEST_REDIS_CLUSTER=1, CI's "redis cluster" step), as the hold store contract on a cluster.
describe.runIf(privateRedisClusterAvailable && onRealPostgres && process.env.TEST_REDIS_CLUSTER === '1')('the app on a Redis Cluster', () => {
  let cluster: PrivateRedisCluster;
  let t: TestApp;
  let users: TestUser[];

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster({ masters: 3, replicas: 1 });
    t = await buildTestApp({ redisCluster: cluster.url });
    users = await Promise.all(Array.from({ length: 4 }, () => createUser(t)));
  }, 150_000); // the cluster's 60 s readiness wait (private-services.ts), then the app
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  });

  const put = (user: TestUser, productId: string, quantity: number) =>
    t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: user.auth, payload: { quantity } });
  const order = (user: TestUser, productId: string, quantity: number) =>
    t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: user.auth, payload: { order_items: [{ product: productId, quantity }] } });
  const checkout = (user: TestUser) => t.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: user.auth });

  it('holds, checks out and relays orders with every key in the prefix’s one slot', async () => {
    const [alice, bob] = users as [TestUser, TestUser];
    const p = await createProduct(t, { stock: 10 });
    expect((await put(alice, p.id, 3)).statusCode).toBe(200);
    // Alice's held units are honoured: 8 of 10 is more than the 7 left.
    expect((await order(bob, p.id, 8)).json()).toMatchObject({ code: 'insufficient_stock' });
    const page = await t.app.inject({ method: 'GET', url: `/api/catalog/products/${p.id}/`, headers: bob.auth });
    expect(page.statusCode).toBe(200);
    expect((await checkout(alice)).statusCode).toBe(201);
    expect((await order(bob, p.id, 7)).statusCode).toBe(201);
    expect(await stockOf(t, p.id)).toBe(0);
    expect(await t.services.orders.relayOutbox()).toBeGreaterThanOrEqual(2);

    const prefix = t.redisPrefix!;
    const keys = await keysUnder(cluster, prefix);
    expect(keys.length).toBeGreaterThan(0);
    const slots = new Set(await Promise.all(keys.map((key) => ask(cluster.nodes[0]!, 'CLUSTER', 'KEYSLOT', key))));
    expect(slots.size).toBe(1);
  });

  it('follows the prefix’s slot to the replica that took over its master, with the holds intact', async () => {
    const [, bob, carol, dave] = users as [TestUser, TestUser, TestUser, TestUser];
    const p = await createProduct(t, { stock: 5 });
    expect((await put(carol, p.id, 4)).statusCode).toBe(200);

    // The master serving the prefix's slot, and its replica.
    const slot = Number(await ask(cluster.nodes[0]!, 'CLUSTER', 'KEYSLOT', `${t.redisPrefix}x`));
    type Shard = [number, number, [string, number, string], ...Array<[string, number, string]>];
    const shardOfSlot = async () => ((await ask(cluster.nodes[0]!, 'CLUSTER', 'SLOTS')) as Shard[]).find(([from, to]) => from <= slot && slot <= to)!;
    // A replica is listed once it has attached to its master, a moment after the cluster is made.
    let shard = await shardOfSlot();
    for (let i = 0; i < 100 && shard.length < 4; i++) {
      await sleep(100);
      shard = await shardOfSlot();
    }
    const masterPort = shard[2][1];
    const replica = cluster.nodes.find((n) => n.port === shard[3]![1])!;
    expect(await ask(replica, 'CLUSTER', 'FAILOVER')).toBe('OK');
    for (let i = 0; i < 100 && ((await ask(replica, 'ROLE')) as [string])[0] !== 'master'; i++) await sleep(100);
    expect(((await ask(replica, 'ROLE')) as [string])[0]).toBe('master');
    const old = cluster.nodes.find((n) => n.port === masterPort)!;
    for (let i = 0; i < 100 && ((await ask(old, 'ROLE')) as [string])[0] !== 'slave'; i++) await sleep(100);
    // The old master now redirects the slot's commands.
    await expect(ask(old, 'GET', `${t.redisPrefix}x`)).rejects.toThrow(/MOVED/);

    // Carol's 4 held units came across: 2 of the 1 left are refused, 1 is not.
    let res = await order(bob, p.id, 2);
    for (let i = 0; i < 20 && res.statusCode === 503; i++) {
      await sleep(200);
      res = await order(bob, p.id, 2);
    }
    expect(res.json()).toMatchObject({ code: 'insufficient_stock' });
    expect((await put(dave, p.id, 1)).statusCode).toBe(200);
    expect((await put(bob, p.id, 1)).json()).toMatchObject({ code: 'insufficient_stock' });
    expect((await checkout(carol)).statusCode).toBe(201);
    expect((await checkout(dave)).statusCode).toBe(201);
    expect(await stockOf(t, p.id)).toBe(0);
  });
});
