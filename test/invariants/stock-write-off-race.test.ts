/**
 * A staff write-off racing a cart hold on two app instances over one PostgreSQL and Redis (issue
 * 22, defect 3), in sync and in flash-sale mode: stock 12, 10 held in one cart; a write-off of 2
 * (as `{delta}`, as `{quantity}`, or as a product PATCH) on one instance and another customer's
 * `PUT` of the last 2 units on the other. One of them gets the 2 units, the other is refused; the
 * stock never ends below the units held in carts, so no untouched cart's checkout is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { onRealPostgres, testRedisUrl } from '../helpers/test-env.ts';
import { buildPeerApp, buildTestApp, type TestApp } from '../helpers/test-app.ts';

const ROUNDS = 30;

describe.runIf(onRealPostgres && testRedisUrl).each([
  { mode: 'sync', env: {} as Record<string, string> },
  { mode: 'async', env: { ORDERS_MODE: 'async', RUN_JOBS_IN_API: 'false' } as Record<string, string> },
])('a staff write-off racing a cart hold on two instances ($mode)', ({ env }) => {
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

  const put = (t: TestApp, user: TestUser, productId: string, quantity: number) =>
    t.app.inject({ method: 'PUT', url: `/api/cart/items/${productId}/`, headers: user.auth, payload: { quantity } });
  const writeOffs = [
    (t: TestApp, id: string) => t.app.inject({ method: 'POST', url: `/api/catalog/products/${id}/inventory/`, headers: staff.auth, payload: { delta: -2 } }),
    (t: TestApp, id: string) => t.app.inject({ method: 'POST', url: `/api/catalog/products/${id}/inventory/`, headers: staff.auth, payload: { quantity: 10 } }),
    (t: TestApp, id: string) => t.app.inject({ method: 'PATCH', url: `/api/catalog/products/${id}/`, headers: staff.auth, payload: { quantity: 10 } }),
  ];

  it(`never leaves stock below the units held (${ROUNDS} rounds: write-off on one instance, PUT of the last units on the other)`, async () => {
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const created = await a.app.inject({
        method: 'POST',
        url: '/api/catalog/products/',
        headers: staff.auth,
        payload: { name: `Write-off ${round}`, price: '3.00', quantity: 12 },
      });
      expect(created.statusCode).toBe(201);
      const id: string = created.json().id;
      const [holder, late] = await Promise.all([createUser(a), createUser(b)]);
      expect((await put(a, holder, id, 10)).statusCode).toBe(200);
      // Alternate which instance writes off, so both orders of arrival at Redis are tried.
      const [staffSide, customerSide] = round % 2 === 0 ? [a, b] : [b, a];
      const [writeOff, hold] = await Promise.all([writeOffs[round % writeOffs.length]!(staffSide, id), put(customerSide, late, id, 2)]);
      const view = (await a.app.inject({ method: 'GET', url: `/api/catalog/products/${id}/inventory/`, headers: staff.auth })).json();
      const answers = `write-off ${writeOff.statusCode} ${writeOff.statusCode >= 400 ? writeOff.json().code : ''}, PUT ${hold.statusCode}; stock ${view.stock}, held ${view.held}`;
      const oneWon = [writeOff.statusCode, hold.statusCode].sort().join() === '200,409';
      if (!oneWon || view.stock < view.held) wrong.push(`round ${round}: ${answers}`);
      // The refused side is told why, as a problem answer.
      if (writeOff.statusCode === 409) expect(writeOff.json().detail).toMatch(/held/);
      if (hold.statusCode === 409) expect(hold.json().code).toBe('insufficient_stock');
      // The untouched cart still checks out.
      const checkout = await b.app.inject({ method: 'POST', url: '/api/cart/checkout/', headers: holder.auth });
      if (![201, 202].includes(checkout.statusCode)) wrong.push(`round ${round}: the holder's checkout answered ${checkout.statusCode} ${checkout.json().code}`);
    }
    expect(wrong).toEqual([]);
  }, 180_000);
});
