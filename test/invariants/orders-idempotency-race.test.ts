/**
 * A keyed order and its retry on two app instances over one PostgreSQL and Redis (issue 22,
 * defects 1 and 2), in sync and in flash-sale mode: the key is looked at before any unit is held,
 * so a retry racing its first try is answered as its replay or `409 idempotency_key_in_progress`,
 * never `insufficient_stock`, and the same key with another body is 422 whatever the stock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { onRealPostgres, testRedisUrl } from '../helpers/test-env.ts';
import { buildPeerApp, buildTestApp, type TestApp } from '../helpers/test-app.ts';

const ROUNDS = 20;

describe.runIf(onRealPostgres && testRedisUrl).each([
  { mode: 'sync', env: {} as Record<string, string> },
  { mode: 'async', env: { ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false' } as Record<string, string> },
])('a keyed order and its retry on two instances ($mode)', ({ env }) => {
  let a: TestApp;
  let b: TestApp;
  let staff: TestUser;

  beforeAll(async () => {
    a = await buildTestApp({ env });
    b = await buildPeerApp(a, { env });
    staff = await createUser(a, { staff: true });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const place = (t: TestApp, user: TestUser, quantity: number, productId: string, key: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/orders/orders/',
      headers: { ...user.auth, 'idempotency-key': key },
      payload: { order_items: [{ product: productId, quantity }] },
    });

  /**
   * Even rounds: a product created through the staff API (its mirror written through). Odd rounds:
   * one written straight into the table, so in flash-sale mode both tries find its mirror missing
   * and load it at admission (the race that once sent the first try down the sync path).
   */
  async function product(round: number): Promise<{ id: string }> {
    if (round % 2 === 1) return createProduct(a, { stock: 3 });
    const created = await a.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload: { name: `Retry ${round}`, price: '2.00', quantity: 3 } });
    expect(created.statusCode).toBe(201);
    return created.json();
  }

  it(`sent to both at once for all the stock: one order, the retry its replay or 409 in progress (${ROUNDS} rounds)`, async () => {
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const p = await product(round);
      const buyer = await createUser(a);
      const key = `retry-${round}-${Math.random()}`;
      const answers = await Promise.all([place(a, buyer, 3, p.id, key), place(b, buyer, 3, p.id, key)]);
      const firsts = answers.filter((r) => (r.statusCode === 201 || r.statusCode === 202) && r.headers['idempotent-replayed'] !== 'true');
      const others = answers.filter((r) => !firsts.includes(r));
      const fine =
        firsts.length === 1 &&
        others.every((r) =>
          r.statusCode === 409 ? r.json().code === 'idempotency_key_in_progress' : r.headers['idempotent-replayed'] === 'true' && r.json().id === firsts[0]!.json().id,
        );
      if (!fine) wrong.push(`round ${round}: ${answers.map((r) => `${r.statusCode} ${r.statusCode >= 400 ? r.json().code : ''}`).join(', ')}`);
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('the same key with another body is 422 whatever the stock', async () => {
    const p = await createProduct(a, { stock: 3 });
    const buyer = await createUser(a);
    const key = `reused-${Math.random()}`;
    const first = await place(a, buyer, 1, p.id, key);
    expect([201, 202]).toContain(first.statusCode);
    // 5 units when 2 are left: the key's other body decides, not the stock.
    for (const t of [b, a]) {
      const reused = await place(t, buyer, 5, p.id, key);
      expect(reused.statusCode).toBe(422);
      expect(reused.json().code).toBe('idempotency_key_reused');
    }
    expect((await place(b, buyer, 2, p.id, key)).json().code).toBe('idempotency_key_reused');
  });
});
