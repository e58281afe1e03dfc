/**
 * The access matrix (OWASP API Top 10: broken object- and function-level authorization). Every
 * route of the app's route table × {anonymous, customer A, customer B, staff} → the answer API.md
 * documents: 401 for anonymous on a protected route, 403 for a customer on a staff route, 404 for
 * customer B on customer A's order, success otherwise. Each cell sends a request that would
 * succeed for an allowed caller (on fresh resources, so cells do not disturb each other); a
 * refused one is problem+json and changes nothing. A route without an expectation below fails.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { snapshot } from '../helpers/state-snapshot.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { waitFor } from '../helpers/webhook-receiver.ts';
import { projectRoot } from '../../src/platform/paths.ts';
import { routeKey, routeTable } from './route-table.ts';

type Caller = 'anonymous' | 'customerA' | 'customerB' | 'staff';
const CALLERS: Caller[] = ['anonymous', 'customerA', 'customerB', 'staff'];

interface Sent {
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  /** Sent as this user of the caller's role instead (routes that end the caller's own sessions). */
  as?: TestUser;
}

interface Expectation {
  /** Who may call it (API.md's "who" column). */
  access: 'public' | 'customer' | 'staff';
  /** The status an allowed caller gets. */
  ok: number;
  /**
   * The resource is customer A's: customer B gets 404; staff may act on it ('staff-too') or, where
   * API.md lists only the customer, gets the same 404 as any other caller ('owner-only').
   */
  ownedByA?: 'staff-too' | 'owner-only';
  /** Builds a request that succeeds for an allowed caller, on fresh resources where it changes them. */
  send: (caller: Caller) => Promise<Sent> | Sent;
}

const t: TestApp = await buildTestApp({ env: { LOGIN_MAX_FAILURES: '1000' } });
let users: Record<Exclude<Caller, 'anonymous'>, TestUser>;
const authOf = (caller: Caller) => (caller === 'anonymous' ? {} : users[caller].auth);
/** A new user in the caller's role, for routes that revoke or close the caller's own account. */
const standIn = async (caller: Caller) => (caller === 'anonymous' ? undefined : createUser(t, { staff: caller === 'staff' }));
const STRONG = 'correct horse battery staple 42';
const consoleAsset = readdirSync(path.join(projectRoot(), 'console', 'dist', 'assets'))[0];

beforeAll(async () => {
  users = { customerA: await createUser(t), customerB: await createUser(t), staff: await createUser(t, { staff: true }) };
});
afterAll(async () => t.close());

const product = async () => (await createProduct(t, { stock: 100 })).id;
async function orderOfA(): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: users.customerA.auth, payload: { order_items: [{ product: await product(), quantity: 1 }] } });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}
async function category(): Promise<string> {
  const slug = `c-${randomUUID().slice(0, 8)}`;
  await t.services.catalog.createCategory({ slug, name: slug });
  return slug;
}
/** A subscription (to a port nothing listens on: the matrix never runs the delivery loop). */
const subscription = async () => (await t.services.webhooks.createSubscription({ url: 'http://127.0.0.1:9/hook', events: ['order.created'] })).id;
/**
 * A subscription with one delivery in its log: an order, relayed, and its first attempt made (a
 * delivery round run by hand: refused at port 9, so a failed attempt is listed).
 */
async function deliveryOf(): Promise<{ sub: string; delivery: string }> {
  const sub = await subscription();
  await orderOfA();
  await t.services.orders.relayOutbox();
  const first = await waitFor(async () => {
    await t.services.webhooks.deliverDue();
    return (await t.services.webhooks.listDeliveries(sub, 1, 0)).results[0];
  }, 30_000, 'the first attempt listed');
  return { sub, delivery: first.id };
}
const freshCustomer = async () => (await createUser(t)).id;
const newAccount = () => {
  const username = `u${randomUUID().slice(0, 12)}`;
  return { username, email: `${username}@example.com`, password: `pw-${randomUUID()}` };
};
/** A refresh token of the caller's own (a fresh session), or of customer A for anonymous. */
const refreshOf = async (caller: Caller) => {
  const user = caller === 'anonymous' ? users.customerA : users[caller];
  return (await login(t, user.username, user.password)).refresh;
};

const EXPECTATIONS: Record<string, Expectation> = {
  'GET /': { access: 'public', ok: 200, send: () => ({ url: '/' }) },
  'GET /health/live': { access: 'public', ok: 200, send: () => ({ url: '/health/live' }) },
  'GET /health/ready': { access: 'public', ok: 200, send: () => ({ url: '/health/ready' }) },
  'GET /metrics': { access: 'public', ok: 200, send: () => ({ url: '/metrics' }) },
  'GET /openapi.json': { access: 'public', ok: 200, send: () => ({ url: '/openapi.json' }) },
  'GET /docs': { access: 'public', ok: 200, send: () => ({ url: '/docs' }) },
  'GET /docs*': { access: 'public', ok: 200, send: () => ({ url: '/docs/static/swagger-ui.css' }) },
  'GET /docs/json': { access: 'public', ok: 200, send: () => ({ url: '/docs/json' }) },
  'GET /docs/yaml': { access: 'public', ok: 200, send: () => ({ url: '/docs/yaml' }) },
  'GET /docs/static/index.html': { access: 'public', ok: 302, send: () => ({ url: '/docs/static/index.html' }) },
  'GET /docs/static/swagger-initializer.js': { access: 'public', ok: 200, send: () => ({ url: '/docs/static/swagger-initializer.js' }) },
  // The staff console's page and assets are public files; everything they show comes from the API.
  'GET /admin': { access: 'public', ok: 200, send: () => ({ url: '/admin/' }) },
  'GET /admin*': { access: 'public', ok: 200, send: () => ({ url: `/admin/assets/${consoleAsset}` }) },

  'POST /api/identity/register': { access: 'public', ok: 201, send: () => ({ url: '/api/identity/register/', payload: newAccount() }) },
  'POST /api/identity/token': {
    access: 'public',
    ok: 200,
    send: () => ({ url: '/api/identity/token/', payload: { username: users.customerA.username, password: users.customerA.password } }),
  },
  'POST /api/identity/token/refresh': { access: 'public', ok: 200, send: async (c) => ({ url: '/api/identity/token/refresh/', payload: { refresh: await refreshOf(c) } }) },
  'POST /api/identity/token/verify': { access: 'public', ok: 200, send: () => ({ url: '/api/identity/token/verify/', payload: { token: users.customerA.access } }) },
  'POST /api/identity/logout': { access: 'customer', ok: 204, send: async (c) => ({ url: '/api/identity/logout/', payload: { refresh: await refreshOf(c) } }) },
  'POST /api/identity/logout/all': { access: 'customer', ok: 204, send: async (c) => ({ url: '/api/identity/logout/all/', as: await standIn(c) }) },
  'POST /api/identity/me/password': {
    access: 'customer',
    ok: 204,
    send: async (c) => {
      const as = await standIn(c);
      return { url: '/api/identity/me/password/', payload: { current_password: as?.password ?? 'x', new_password: STRONG }, as };
    },
  },
  'DELETE /api/identity/me': {
    access: 'customer',
    ok: 204,
    send: async (c) => {
      const as = await standIn(c);
      return { url: '/api/identity/me/', payload: { password: as?.password ?? 'x' }, as };
    },
  },
  'POST /api/identity/password-reset': { access: 'public', ok: 202, send: () => ({ url: '/api/identity/password-reset/', payload: { email: `reset-${randomUUID().slice(0, 8)}@example.com` } }) },
  // A valid token only comes by mail; an unknown one is refused alike for every caller (not 401/403).
  'POST /api/identity/password-reset/confirm': { access: 'public', ok: 400, send: () => ({ url: '/api/identity/password-reset/confirm/', payload: { token: 'unknown', new_password: STRONG } }) },
  'GET /api/identity/me': { access: 'customer', ok: 200, send: () => ({ url: '/api/identity/me/' }) },
  'PATCH /api/identity/me': { access: 'customer', ok: 200, send: () => ({ url: '/api/identity/me/', payload: { first_name: 'Ada' } }) },
  'GET /api/identity/customers': { access: 'staff', ok: 200, send: () => ({ url: '/api/identity/customers/' }) },
  'POST /api/identity/customers': { access: 'staff', ok: 201, send: () => ({ url: '/api/identity/customers/', payload: newAccount() }) },
  'GET /api/identity/customers/:id': { access: 'staff', ok: 200, send: () => ({ url: `/api/identity/customers/${users.customerA.id}/` }) },
  'PATCH /api/identity/customers/:id': { access: 'staff', ok: 200, send: async () => ({ url: `/api/identity/customers/${await freshCustomer()}/`, payload: { last_name: 'X' } }) },
  'DELETE /api/identity/customers/:id': { access: 'staff', ok: 204, send: async () => ({ url: `/api/identity/customers/${await freshCustomer()}/` }) },

  'GET /api/catalog/products': { access: 'customer', ok: 200, send: () => ({ url: '/api/catalog/products/' }) },
  'POST /api/catalog/products': { access: 'staff', ok: 201, send: () => ({ url: '/api/catalog/products/', payload: { name: 'New', price: '1.00', quantity: 1 } }) },
  'GET /api/catalog/products/:id': { access: 'customer', ok: 200, send: async () => ({ url: `/api/catalog/products/${await product()}/` }) },
  'PUT /api/catalog/products/:id': {
    access: 'staff',
    ok: 200,
    send: async () => ({ url: `/api/catalog/products/${await product()}/`, payload: { name: 'Renamed', price: '2.00', quantity: 5 } }),
  },
  'PATCH /api/catalog/products/:id': { access: 'staff', ok: 200, send: async () => ({ url: `/api/catalog/products/${await product()}/`, payload: { price: '3.00' } }) },
  'DELETE /api/catalog/products/:id': { access: 'staff', ok: 204, send: async () => ({ url: `/api/catalog/products/${await product()}/` }) },
  'POST /api/catalog/products/:id/inventory': { access: 'staff', ok: 200, send: async () => ({ url: `/api/catalog/products/${await product()}/inventory/`, payload: { delta: 1 } }) },
  'GET /api/catalog/products/:id/inventory': { access: 'staff', ok: 200, send: async () => ({ url: `/api/catalog/products/${await product()}/inventory/` }) },
  'GET /api/catalog/inventory/low': { access: 'staff', ok: 200, send: () => ({ url: '/api/catalog/inventory/low/' }) },
  'GET /api/catalog/suggest': { access: 'customer', ok: 200, send: () => ({ url: '/api/catalog/suggest/?q=new' }) },
  'GET /api/catalog/categories': { access: 'customer', ok: 200, send: () => ({ url: '/api/catalog/categories/' }) },
  'POST /api/catalog/categories': { access: 'staff', ok: 201, send: () => ({ url: '/api/catalog/categories/', payload: { slug: `n-${randomUUID().slice(0, 8)}`, name: 'N' } }) },
  'PATCH /api/catalog/categories/:slug': { access: 'staff', ok: 200, send: async () => ({ url: `/api/catalog/categories/${await category()}/`, payload: { name: 'Renamed' } }) },
  'DELETE /api/catalog/categories/:slug': { access: 'staff', ok: 204, send: async () => ({ url: `/api/catalog/categories/${await category()}/` }) },

  'GET /api/cart': { access: 'customer', ok: 200, send: () => ({ url: '/api/cart/' }) },
  'DELETE /api/cart': { access: 'customer', ok: 204, send: () => ({ url: '/api/cart/' }) },
  'PUT /api/cart/items/:product_id': { access: 'customer', ok: 200, send: async () => ({ url: `/api/cart/items/${await product()}/`, payload: { quantity: 1 } }) },
  'DELETE /api/cart/items/:product_id': { access: 'customer', ok: 200, send: async () => ({ url: `/api/cart/items/${await product()}/` }) },
  'POST /api/cart/checkout': {
    access: 'customer',
    ok: 201,
    send: async (caller) => {
      // Something in the caller's own cart first, or checkout has nothing to order.
      if (caller !== 'anonymous') {
        const res = await t.app.inject({ method: 'PUT', url: `/api/cart/items/${await product()}/`, headers: authOf(caller), payload: { quantity: 1 } });
        expect(res.statusCode).toBe(200);
      }
      return { url: '/api/cart/checkout/' };
    },
  },

  'POST /api/orders/orders': { access: 'customer', ok: 201, send: async () => ({ url: '/api/orders/orders/', payload: { order_items: [{ product: await product(), quantity: 1 }] } }) },
  'GET /api/orders/orders': { access: 'customer', ok: 200, send: () => ({ url: '/api/orders/orders/' }) },
  // API.md: "customer: own order; someone else's → 404" (staff act on orders by cancel and ship).
  'GET /api/orders/orders/:id': { access: 'customer', ok: 200, ownedByA: 'owner-only', send: async () => ({ url: `/api/orders/orders/${await orderOfA()}/` }) },
  'POST /api/orders/orders/:id/cancel': { access: 'customer', ok: 200, ownedByA: 'staff-too', send: async () => ({ url: `/api/orders/orders/${await orderOfA()}/cancel/` }) },
  'GET /api/orders/stats/hourly': { access: 'staff', ok: 200, send: () => ({ url: '/api/orders/stats/hourly/' }) },
  'POST /api/orders/orders/:id/ship': { access: 'staff', ok: 200, send: async () => ({ url: `/api/orders/orders/${await orderOfA()}/ship/` }) },

  'GET /api/webhooks/subscriptions': { access: 'staff', ok: 200, send: () => ({ url: '/api/webhooks/subscriptions/' }) },
  'POST /api/webhooks/subscriptions': { access: 'staff', ok: 201, send: () => ({ url: '/api/webhooks/subscriptions/', payload: { url: 'https://hooks.example.com/in', events: ['*'] } }) },
  'GET /api/webhooks/subscriptions/:id': { access: 'staff', ok: 200, send: async () => ({ url: `/api/webhooks/subscriptions/${await subscription()}/` }) },
  'PATCH /api/webhooks/subscriptions/:id': { access: 'staff', ok: 200, send: async () => ({ url: `/api/webhooks/subscriptions/${await subscription()}/`, payload: { enabled: false } }) },
  'DELETE /api/webhooks/subscriptions/:id': { access: 'staff', ok: 204, send: async () => ({ url: `/api/webhooks/subscriptions/${await subscription()}/` }) },
  'POST /api/webhooks/subscriptions/:id/rotate-secret': { access: 'staff', ok: 200, send: async () => ({ url: `/api/webhooks/subscriptions/${await subscription()}/rotate-secret/` }) },
  'GET /api/webhooks/subscriptions/:id/deliveries': { access: 'staff', ok: 200, send: async () => ({ url: `/api/webhooks/subscriptions/${await subscription()}/deliveries/` }) },
  'POST /api/webhooks/subscriptions/:id/deliveries/:delivery_id/redeliver': {
    access: 'staff',
    ok: 202,
    send: async () => {
      const { sub, delivery } = await deliveryOf();
      return { url: `/api/webhooks/subscriptions/${sub}/deliveries/${delivery}/redeliver/` };
    },
  },
};

/** The documented answer of one cell. */
function expected(e: Expectation, caller: Caller): number {
  if (e.access === 'public') return e.ok;
  if (caller === 'anonymous') return 401;
  if (e.access === 'staff' && caller !== 'staff') return 403;
  if (e.ownedByA && caller === 'customerB') return 404;
  if (e.ownedByA === 'owner-only' && caller === 'staff') return 404;
  return e.ok;
}

const routes = routeTable(t.app);
/** HEAD routes are Fastify's mirrors of GET: the same expectation, without a body. */
const expectationOf = (key: string) => EXPECTATIONS[key.replace(/^HEAD /, 'GET ')];

describe('access matrix: every route × caller → the documented answer', () => {
  it('has an expectation for every route of the app, and no stale one', () => {
    const missing = routes.map(routeKey).filter((key) => !expectationOf(key));
    expect(missing, 'routes without an access expectation: add them to EXPECTATIONS').toEqual([]);
    const live = new Set(routes.map(routeKey));
    expect(Object.keys(EXPECTATIONS).filter((key) => !live.has(key)), 'expectations for routes that are gone').toEqual([]);
  });

  const cells = routes.flatMap((route) => CALLERS.map((caller) => [routeKey(route), caller, route.method] as const));
  it.each(cells)('%s as %s', async (key, caller, method) => {
    const e = expectationOf(key);
    if (!e) return; // reported by the test above
    const sent = await e.send(caller);
    const owners = [users.customerA.id, users.customerB.id, users.staff.id];
    const before = await snapshot(t, owners);
    const res = await t.app.inject({
      method: method as 'GET',
      url: sent.url,
      headers: { ...(sent.as ? sent.as.auth : authOf(caller)), ...sent.headers },
      ...(sent.payload !== undefined ? { payload: sent.payload as object } : {}),
    });
    const want = expected(e, caller);
    expect(res.statusCode, `${key} as ${caller}: ${res.body.slice(0, 300)}`).toBe(want);
    if (want >= 400) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const code = { 401: 'not_authenticated', 403: 'forbidden', 404: 'not_found' }[want];
      if (method !== 'HEAD' && code) expect(res.json().code).toBe(code);
      expect(await snapshot(t, owners), 'a refused request changed something').toEqual(before);
    }
  });
});
