/**
 * Products for tests of other modules, made the way a shop makes them: through the catalog's staff
 * HTTP API (create, change inventory, edit, archive), signed in as a staff user made once per app.
 * Whatever a staff change does after its commit (cached pages dropped, the stock mirror moved, the
 * write's WAL position recorded for replica reads) therefore happens as it does for a real shop;
 * a test that needs a write behind the API's back makes it itself and says why.
 */
import type { LightMyRequestResponse } from 'fastify';
import { queryRows, sql } from '../../src/platform/db.ts';
import { formatMoney } from '../../src/platform/money.ts';
import { createUser } from './auth.ts';
import type { TestApp } from './test-app.ts';

export interface TestProduct {
  id: string;
  name: string;
  priceCents: number;
}

let counter = 0;

/** One staff sign-in per app, shared by concurrent calls; dropped when the API no longer accepts it. */
const staffTokens = new WeakMap<TestApp, Promise<string>>();

function staffToken(t: TestApp): Promise<string> {
  let token = staffTokens.get(t);
  if (!token) {
    token = createUser(t, { staff: true }).then((user) => user.access);
    staffTokens.set(t, token);
    token.catch(() => staffTokens.delete(t));
  }
  return token;
}

/**
 * One staff request; a token the app refuses (401: expired during a long test) is replaced once.
 * Any answer but `expected` throws with the request, the status and the body.
 */
async function staffRequest(
  t: TestApp,
  method: 'POST' | 'PATCH' | 'DELETE',
  url: string,
  expected: number,
  payload?: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  let res: LightMyRequestResponse | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const authorization = `Bearer ${await staffToken(t)}`;
    res = await t.app.inject({ method, url, headers: { authorization }, ...(payload ? { payload } : {}) });
    if (res.statusCode !== 401) break;
    staffTokens.delete(t);
  }
  if (res!.statusCode !== expected) {
    throw new Error(`catalog-factory: ${method} ${url} ${JSON.stringify(payload ?? null)} answered ${res!.statusCode} (expected ${expected}): ${res!.body}`);
  }
  return res!;
}

/** POST products/ (name, price, quantity); with `archived`, then DELETE products/{id}/. */
export async function createProduct(t: TestApp, opts: { stock: number; priceCents?: number; name?: string; archived?: boolean }): Promise<TestProduct> {
  const name = opts.name ?? `Product ${++counter}`;
  const priceCents = opts.priceCents ?? 1000;
  const res = await staffRequest(t, 'POST', '/api/catalog/products/', 201, { name, price: formatMoney(priceCents), quantity: opts.stock });
  const product: TestProduct = { id: res.json<{ id: string }>().id, name, priceCents };
  if (opts.archived) await staffRequest(t, 'DELETE', `/api/catalog/products/${product.id}/`, 204);
  return product;
}

/**
 * The shelf stock, read from the database: this only observes (no write, nothing to keep in step),
 * and the staff view (GET products/{id}/inventory/) refuses archived products.
 */
export async function stockOf(t: TestApp, productId: string): Promise<number> {
  const [row] = await queryRows<{ stock: number }>(t.services.db.primary, sql`select stock from catalog.products where id = ${productId}`);
  if (!row) throw new Error(`no product ${productId}`);
  return row.stock;
}

/** POST products/{id}/inventory/ with `{delta}`: units added (or, negative, written off). */
export async function restock(t: TestApp, productId: string, units: number): Promise<void> {
  await staffRequest(t, 'POST', `/api/catalog/products/${productId}/inventory/`, 200, { delta: units });
}

/** PATCH products/{id}/ with the new price. */
export async function setPrice(t: TestApp, productId: string, priceCents: number): Promise<void> {
  await staffRequest(t, 'PATCH', `/api/catalog/products/${productId}/`, 200, { price: formatMoney(priceCents) });
}
