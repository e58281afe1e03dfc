/**
 * Schema-driven fuzzing of every operation in /openapi.json (arbitraries in operations.ts). For
 * every request: never a 5xx; every error is application/problem+json with `code` and the
 * `request_id` of its X-Request-Id; and after any 4xx nothing changed (users, products and
 * stock, categories, orders, idempotency records, outbox, tokens, carts: state-snapshot.ts).
 *
 * FUZZ_RUNS: requests per operation (default 40: the file takes about a minute on the embedded
 * database). FUZZ_SEED replays a failure: fast-check prints the seed and path of the first
 * failing case, and the shrunk request is printed below it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { snapshot, type Snapshot } from '../helpers/state-snapshot.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { operationsOf, requestArbitrary, type FuzzRequest, type OpenApi, type Operation, type PathPool } from './operations.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

// Built while the tests are collected: the operations of the document name the tests.
const t: TestApp = await buildTestApp({ env: { LOGIN_MAX_FAILURES: '1000' } });
const document = (await t.app.inject({ url: '/openapi.json' })).json() as OpenApi;
let users: Record<'customer' | 'customerB' | 'staff' | 'victim', TestUser>;
let pool: PathPool;
let uuids: string[];
const tally = { cases: 0, byStatus: new Map<number, number>(), staleSessions: 0, signIns: 0 };

async function placeOrder(user: TestUser, product: string) {
  const res = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: user.auth, payload: { order_items: [{ product, quantity: 1 }] } });
  if (res.statusCode !== 201) throw new Error(`order failed: ${res.statusCode} ${res.body}`);
  return res.json().id as string;
}

beforeAll(async () => {
  users = {
    customer: await createUser(t),
    customerB: await createUser(t),
    staff: await createUser(t, { staff: true }),
    victim: await createUser(t),
  };
  const products = await Promise.all([1, 2, 3, 4].map(() => createProduct(t, { stock: 1_000_000 })));
  const category = await t.services.catalog.createCategory({ slug: 'fuzz-cat', name: 'Fuzz' });
  const orders = [await placeOrder(users.customer, products[0]!.id), await placeOrder(users.customerB, products[1]!.id)];
  await t.app.inject({ method: 'PUT', url: `/api/cart/items/${products[2]!.id}/`, headers: users.customer.auth, payload: { quantity: 2 } });
  uuids = [...products.map((p) => p.id), ...orders, users.victim.id];
  pool = {
    id: [products[3]!.id, users.victim.id, ...orders],
    product_id: products.slice(0, 3).map((p) => p.id),
    slug: [category.slug, 'no-such-category'],
  };
});

afterAll(async () => {
  const statuses = [...tally.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
  process.stderr.write(`fuzz: ${tally.cases} requests; statuses ${statuses}; signed in again ${tally.signIns}×\n`);
  await t.close();
});

const authFor = (role: FuzzRequest['role']): Record<string, string> => {
  if (role === 'anonymous') return {};
  if (role === 'bad-token') return { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' };
  return users[role].auth;
};

type SignedIn = Exclude<FuzzRequest['role'], 'anonymous' | 'bad-token'>;
const signedIn = (role: FuzzRequest['role']): role is SignedIn => role !== 'anonymous' && role !== 'bad-token';

/**
 * A request that succeeded may have ended its own session (logout/all, for one): signs in again
 * when the token no longer works, so every later request runs as who it says, not as a 401.
 */
async function keepSignedIn(role: SignedIn): Promise<boolean> {
  const me = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: users[role].auth });
  if (me.statusCode !== 401) return false;
  const tokens = await login(t, users[role].username, users[role].password);
  users[role] = { ...users[role], ...tokens, auth: { authorization: `Bearer ${tokens.access}` } };
  tally.signIns++;
  return true;
}

/** Sends one request and checks the answer; a 4xx must leave the state as it was. */
async function check(request: FuzzRequest, before: Snapshot): Promise<Snapshot> {
  const res = await t.app.inject({
    method: request.method as 'GET',
    url: request.url,
    headers: { ...request.headers, ...authFor(request.role) },
    ...(request.payload !== undefined ? { payload: request.payload } : {}),
    remoteAddress: '127.0.0.2',
  });
  tally.cases++;
  tally.byStatus.set(res.statusCode, (tally.byStatus.get(res.statusCode) ?? 0) + 1);
  const where = `${request.method} ${request.url.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  if (signedIn(request.role)) {
    // A 401 sent with a token that no longer works means an earlier request ended this session
    // and was not noticed: this request did not test what it was meant to.
    if (res.statusCode === 401 && (await keepSignedIn(request.role))) tally.staleSessions++;
    if (res.statusCode < 300 && request.method !== 'GET') await keepSignedIn(request.role);
  }
  expect(res.statusCode, where).toBeLessThan(500);
  const after = await snapshot(t, [users.customer.id, users.customerB.id, users.staff.id]);
  if (res.statusCode >= 400) {
    expect(res.headers['content-type'], where).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem.code, where).toEqual(expect.any(String));
    expect(problem.request_id, where).toBe(res.headers['x-request-id']);
    expect(after, `${where}: state changed after a ${res.statusCode}`).toEqual(before);
  }
  return after;
}

/** Long generated strings would flood the log: each value of the counterexample is cut short. */
function compactReport(details: fc.RunDetails<[FuzzRequest]>) {
  if (!details.failed) return;
  const cut = (v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length} chars)` : v);
  const example = details.counterexample ? JSON.stringify(details.counterexample[0], (_k, v) => cut(v)) : 'none';
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `fuzz failure after ${details.numRuns} runs (replay: FUZZ_SEED=${details.seed}, path ${details.counterexamplePath}, shrunk ${details.numShrinks}×)\n` +
      `request: ${example}\n${String(cause).slice(0, 1500)}`,
  );
}

describe('every operation of /openapi.json, fuzzed from its schemas', () => {
  it('the document lists the operations the fuzzer covers', () => {
    const ops = operationsOf(document);
    expect(ops.length).toBeGreaterThanOrEqual(30);
    expect(ops.filter((op) => op.body).length).toBeGreaterThanOrEqual(10);
  });

  // One test per operation, so a failure names it.
  it.each(operationsOf(document).map((op) => [`${op.method} ${op.path}`, op] as const))('%s', async (_name, op: Operation) => {
    let state = await snapshot(t, [users.customer.id, users.customerB.id, users.staff.id]);
    await fc.assert(
      fc.asyncProperty(requestArbitrary(document, op, { uuids, slugs: pool.slug! }, pool), async (request) => {
        state = await check(request, state);
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), reporter: compactReport },
    );
  }, 120_000);

  it('every request sent as a signed-in user ran as that user (no session left revoked by an earlier one)', () => {
    expect(tally.cases).toBeGreaterThan(0);
    expect(tally.staleSessions).toBe(0);
  });
});

