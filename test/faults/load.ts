/**
 * Concurrent customers for the fault scenarios, through the app's HTTP edge (app.inject): each
 * browses the catalog, holds items in its cart and orders with an Idempotency-Key, which it
 * retries with the same key after a 503 (as a client told "try again" does). Every answer is
 * checked against what API.md allows under a fault; the invariants are checked on the database
 * afterwards (checkInvariants).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { createProduct, type TestProduct } from '../helpers/catalog-factory.ts';
import type { TestApp } from '../helpers/test-app.ts';

export type Feature = 'browse' | 'cart' | 'order' | 'sign-in';

/** Answers a request may get while a dependency fails (API.md); anything else is a violation. */
const ALLOWED: Record<Feature, number[]> = {
  browse: [200, 503],
  cart: [200, 409, 503],
  order: [201, 409, 503],
  'sign-in': [200, 503],
};

export interface Answer {
  feature: Feature;
  status: number;
  at: number;
}

export interface LoadResult {
  answers: Answer[];
  violations: string[];
  /** Order ids the clients were told were placed, by Idempotency-Key. */
  placed: Map<string, string>;
  /** Keys whose last attempt was refused 503 when the run ended: settle() asks them again. */
  unsettled: Map<string, { customer: TestUser; product: TestProduct }>;
}

export interface Shop {
  customers: TestUser[];
  products: TestProduct[];
  /** Units stocked per product at the start. */
  stocked: Map<string, number>;
}

export async function openShop(t: TestApp, customers = 16, products = 4, stock = 1000): Promise<Shop> {
  const made = await Promise.all(Array.from({ length: products }, (_, i) => createProduct(t, { stock, name: `fault-product-${i}-${randomUUID().slice(0, 6)}` })));
  const users = [];
  for (let i = 0; i < customers; i++) users.push(await createUser(t));
  return { customers: users, products: made, stocked: new Map(made.map((p) => [p.id, stock])) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Reply = { statusCode: number; headers: Record<string, unknown>; body: string };

function recordAnswer(result: LoadResult, feature: Feature, res: Reply) {
  result.answers.push({ feature, status: res.statusCode, at: Date.now() });
  if (!ALLOWED[feature].includes(res.statusCode)) result.violations.push(`${feature}: ${res.statusCode} ${res.body.slice(0, 200)}`);
  if (res.statusCode === 503) {
    const body = JSON.parse(res.body) as { code?: string };
    if (body.code !== 'unavailable' || !res.headers['retry-after']) result.violations.push(`${feature}: 503 without code unavailable and Retry-After: ${res.body.slice(0, 200)}`);
  }
}

/** One order, retried with its key after a 503 until it is answered or `until` has passed. */
async function placeOrder(t: TestApp, result: LoadResult, customer: TestUser, product: TestProduct, key: string, until: number) {
  for (;;) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/orders/orders/',
      headers: { ...customer.auth, 'idempotency-key': key },
      payload: { order_items: [{ product: product.id, quantity: 1 }] },
    });
    recordAnswer(result, 'order', res);
    result.unsettled.delete(key);
    if (res.statusCode === 201) {
      const id = (JSON.parse(res.body) as { id: string }).id;
      const before = result.placed.get(key);
      if (before && before !== id) result.violations.push(`key ${key} answered two orders: ${before}, ${id}`);
      result.placed.set(key, id);
      return;
    }
    if (res.statusCode !== 503) return;
    if (Date.now() > until) {
      result.unsettled.set(key, { customer, product });
      return;
    }
    await sleep(50);
  }
}

/** After the fault: every key left refused is sent again until answered (its order may exist). */
export async function settle(t: TestApp, result: LoadResult, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  await Promise.all([...result.unsettled].map(([key, { customer, product }]) => placeOrder(t, result, customer, product, key, until)));
  expect([...result.unsettled.keys()]).toEqual([]);
}

/** Runs every customer until `until()` says stop (bounded by maxMs and maxRequests per client). */
export async function runLoad(t: TestApp, shop: Shop, options: { ms: number; maxRequestsPerClient?: number; features?: Feature[] }): Promise<LoadResult> {
  const result: LoadResult = { answers: [], violations: [], placed: new Map(), unsettled: new Map() };
  const end = Date.now() + options.ms;
  const features = options.features ?? ['browse', 'browse', 'browse', 'cart', 'order', 'sign-in'];
  const max = options.maxRequestsPerClient ?? 400;

  const record = (feature: Feature, res: Reply) => recordAnswer(result, feature, res);

  const client = async (customer: TestUser, n: number) => {
    for (let i = 0; i < max && Date.now() < end; i++) {
      const feature = features[(n + i) % features.length]!;
      // The product moves on after each round of features, so every feature meets every product
      // (with the same index for both, six features over four products ordered only two of them).
      const product = shop.products[(n + Math.floor(i / features.length)) % shop.products.length]!;
      if (feature === 'browse') {
        // A query of its own now and then, so some reads miss the cache and reach the database.
        const url = i % 3 === 0 ? `/api/catalog/products/?limit=${(i % 40) + 1}&search=fault` : `/api/catalog/products/${product.id}/`;
        record('browse', await t.app.inject({ method: 'GET', url, headers: customer.auth }));
      } else if (feature === 'cart') {
        record('cart', await t.app.inject({ method: 'PUT', url: `/api/cart/items/${product.id}/`, headers: customer.auth, payload: { quantity: (i % 3) + 1 } }));
      } else if (feature === 'order') {
        await placeOrder(t, result, customer, product, randomUUID(), end);
      } else {
        record('sign-in', await t.app.inject({ method: 'POST', url: '/api/identity/token/', payload: { username: customer.username, password: customer.password }, remoteAddress: `10.99.${n}.${i % 250}` }));
      }
    }
  };

  await Promise.all(shop.customers.map((c, n) => client(c, n)));
  return result;
}

/** How many answers of each status, per feature: `{ browse: { 200: 812, 503: 3 } }`. */
export function tally(answers: Answer[]): Record<string, Record<number, number>> {
  const out: Record<string, Record<number, number>> = {};
  for (const a of answers) {
    const row = (out[a.feature] ??= {});
    row[a.status] = (row[a.status] ?? 0) + 1;
  }
  return out;
}

/**
 * On the database itself (not through the proxy): stock never negative, stocked = stock + units in
 * confirmed orders, and the orders that exist are exactly those the clients were told of (one per
 * key: a lost reply answered by its retry, never two).
 */
export async function checkInvariants(directUrl: string, shop: Shop, placed: Map<string, string>) {
  const client = new pg.Client({ connectionString: directUrl });
  await client.connect();
  try {
    const ids = shop.products.map((p) => p.id);
    const stock = await client.query<{ id: string; stock: number; ordered: string }>(
      `select p.id, p.stock,
              coalesce((select sum(l.quantity) from orders.order_lines l join orders.orders o on o.id = l.order_id
                        where l.product_id = p.id and o.status = 'confirmed'), 0) as ordered
       from catalog.products p where p.id = any($1)`,
      [ids],
    );
    for (const row of stock.rows) {
      expect(row.stock).toBeGreaterThanOrEqual(0);
      expect(row.stock + Number(row.ordered)).toBe(shop.stocked.get(row.id));
    }
    const orders = await client.query<{ id: string }>(`select id from orders.orders where customer_id = any($1)`, [shop.customers.map((c) => c.id)]);
    expect(new Set(orders.rows.map((r) => r.id))).toEqual(new Set(placed.values()));
  } finally {
    await client.end();
  }
}

/** Sends requests until one answers as wanted; returns how long that took (the recovery time). */
export async function recoveryMs(probe: () => Promise<number>, wanted: number, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if ((await probe()) === wanted) return Date.now() - start;
    await sleep(50);
  }
  return Infinity;
}
