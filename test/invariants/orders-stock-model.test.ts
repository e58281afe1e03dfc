/**
 * Property: under any sequence of orders, bursts of concurrent orders, cancels and restocks, a
 * product's stock equals what was stocked minus the units of confirmed orders (cancelled ones came
 * back), and the HTTP answers match a trivial model. A burst's orders reach the batching writer
 * together and are decided in an order the model cannot know, so for them it checks what any
 * arrival order implies: no oversell, and every refused order is short even of what was left at
 * the end. Runs on both backends.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, restock, stockOf, type TestProduct } from '../helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

type Lines = Array<{ product: number; quantity: number }>;
type Step =
  | { kind: 'order'; lines: Lines }
  | { kind: 'burst'; orders: Lines[] }
  | { kind: 'cancel'; pick: number }
  | { kind: 'restock'; product: number; units: number };

const PRODUCTS = 3;

const lines: fc.Arbitrary<Lines> = fc.array(fc.record({ product: fc.integer({ min: 0, max: PRODUCTS - 1 }), quantity: fc.integer({ min: 1, max: 4 }) }), {
  minLength: 1,
  maxLength: 3,
});

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('order' as const), lines }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('burst' as const), orders: fc.array(lines, { minLength: 2, maxLength: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restock' as const), product: fc.integer({ min: 0, max: PRODUCTS - 1 }), units: fc.integer({ min: 1, max: 5 }) }) },
);

describe('stock bookkeeping model', () => {
  let t: TestApp;
  let buyer: TestUser;

  beforeAll(async () => {
    t = await buildTestApp();
    buyer = await createUser(t);
  });
  afterAll(() => t.close());

  it('stock = stocked − confirmed + cancelled after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: PRODUCTS, maxLength: PRODUCTS }), fc.array(step, { maxLength: 12 }), async (initial, steps) => {
        const products: TestProduct[] = [];
        for (const stock of initial) products.push(await createProduct(t, { stock, priceCents: 100 }));
        const stocked = [...initial];
        const model = [...initial];
        const confirmed: Array<{ id: string; units: number[] }> = [];
        const unitsOf = (order: Lines) => {
          const wanted = Array.from({ length: PRODUCTS }, () => 0);
          for (const l of order) wanted[l.product]! += l.quantity;
          return wanted;
        };
        const place = (order: Lines) =>
          t.app.inject({
            method: 'POST',
            url: '/api/orders/orders/',
            headers: buyer.auth,
            payload: { order_items: order.map((l) => ({ product: products[l.product]!.id, quantity: l.quantity })) },
          });
        for (const s of steps) {
          if (s.kind === 'restock') {
            await restock(t, products[s.product]!.id, s.units);
            stocked[s.product]! += s.units;
            model[s.product]! += s.units;
          } else if (s.kind === 'burst') {
            const answers = await Promise.all(s.orders.map((o) => place(o)));
            const refused: number[][] = [];
            answers.forEach((res, i) => {
              expect([201, 409]).toContain(res.statusCode);
              const wanted = unitsOf(s.orders[i]!);
              if (res.statusCode === 409) refused.push(wanted);
              else {
                wanted.forEach((w, p) => (model[p]! -= w));
                confirmed.push({ id: res.json().id, units: wanted });
              }
            });
            for (const wanted of refused) expect(wanted.some((w, p) => w > model[p]!)).toBe(true);
          } else if (s.kind === 'order') {
            const wanted = unitsOf(s.lines);
            const res = await place(s.lines);
            const fits = wanted.every((w, i) => w <= model[i]!);
            expect(res.statusCode).toBe(fits ? 201 : 409);
            if (fits) {
              wanted.forEach((w, i) => (model[i]! -= w));
              confirmed.push({ id: res.json().id, units: wanted });
            }
          } else if (confirmed.length > 0) {
            const [order] = confirmed.splice(s.pick % confirmed.length, 1);
            const res = await t.app.inject({ method: 'POST', url: `/api/orders/orders/${order!.id}/cancel/`, headers: buyer.auth });
            expect(res.statusCode).toBe(200);
            order!.units.forEach((u, i) => (model[i]! += u));
          }
          for (let i = 0; i < PRODUCTS; i++) {
            const actual = await stockOf(t, products[i]!.id);
            const confirmedUnits = confirmed.reduce((sum, o) => sum + o.units[i]!, 0);
            expect(actual).toBe(model[i]);
            expect(actual).toBe(stocked[i]! - confirmedUnits);
            expect(actual).toBeGreaterThanOrEqual(0);
          }
        }
      }),
      { numRuns: 100 },
    );
  }, 240_000);
});
