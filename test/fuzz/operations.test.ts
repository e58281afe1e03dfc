/**
 * Schema-driven fuzzing of every operation in /openapi.json (arbitraries in operations.ts). For
 * every request: the answer keeps the document (status, media type and body schema: the contract
 * hook of every test app); never a 5xx; every error is application/problem+json with `code` and
 * the `request_id` of its X-Request-Id; after any 4xx nothing changed (row counts and row-hash
 * sums, kept by triggers, of users, products and stock, categories, orders, idempotency records,
 * outbox and tokens, plus the carts: state-snapshot.ts); and what the document says of bodies holds: deeper
 * than its depth limit is 400, up to it is not refused for depth; longer than the operation's
 * `x-body-limit` is 413, up to it is not.
 *
 * FUZZ_REQUESTS: requests in all, spread evenly over the operations (default 2,500; CI runs
 * 10,000 once per run). FUZZ_SEED: the run's seed (random when unset), printed at the start and
 * in the summary whatever the outcome; a failure prints it with the request, and
 * `FUZZ_SEED=<seed> FUZZ_REQUESTS=<n> npx vitest run test/fuzz/operations.test.ts` replays the run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, type TestUser } from '../helpers/auth.ts';
import { createProduct } from '../helpers/catalog-factory.ts';
import { watchChanges } from '../helpers/state-snapshot.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { documentedDepth, nestingDepth, operationsOf, requestArbitrary, type FuzzRequest, type OpenApi, type Operation, type PathPool } from './operations.ts';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2500);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const REPLAY = `FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS} npx vitest run test/fuzz/operations.test.ts`;
process.stderr.write(`fuzz: seed ${SEED}, ${REQUESTS} requests (replay: ${REPLAY})\n`);

// Built while the tests are collected: the operations of the document name the tests.
const t: TestApp = await buildTestApp({
  // Many sign-ins from one address; password-reset answers are not held to their minimum time
  // (equal timing is password-reset.test.ts's), which would cost a quarter second each here.
  env: { LOGIN_MAX_FAILURES: '1000', PASSWORD_RESET_MIN_RESPONSE_MS: '0' },
});
const document = (await t.app.inject({ url: '/openapi.json' })).json() as OpenApi;
const operations = operationsOf(document);
const RUNS = Math.ceil(REQUESTS / operations.length);
const MAX_DEPTH = documentedDepth(document);
let users: Record<'customer' | 'customerB' | 'staff' | 'victim', TestUser>;
let pool: PathPool;
let uuids: string[];
let changes: () => Promise<Record<string, string>>;
/** The tables' figures after the last request, unless a sign-in since has changed them. */
let lastFigures: Record<string, string> | undefined;
const tally = {
  cases: 0,
  byStatus: new Map<number, number>(),
  staleSessions: 0,
  signIns: 0,
  /** Bodies nested within the documented depth and beyond it; sized within the operation's limit and beyond it. */
  bodies: { shallow: 0, tooDeep: 0, withinLimit: 0, overLimit: 0 },
  started: 0,
};

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
  ({ read: changes } = await watchChanges(t));
  tally.started = performance.now();
});

afterAll(async () => {
  const statuses = [...tally.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
  const { shallow, tooDeep, withinLimit, overLimit } = tally.bodies;
  const seconds = (performance.now() - tally.started) / 1000;
  process.stderr.write(
    `fuzz: seed ${SEED}, ${tally.cases} requests over ${operations.length} operations in ${seconds.toFixed(0)} s (${((seconds * 1000) / Math.max(1, tally.cases)).toFixed(1)} ms each); ` +
      `statuses ${statuses}; JSON bodies nested ≤ ${MAX_DEPTH} levels ${shallow}, deeper ${tooDeep}; within the body limit ${withinLimit}, over it ${overLimit}; ` +
      `signed in again ${tally.signIns}× (replay: ${REPLAY})\n`,
  );
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
  lastFigures = undefined;
  return true;
}

/** What can change a cart: its own routes, orders (checkout) and accounts (deactivation). */
const touchesCarts = (url: string) => /^\/api\/(cart|orders|identity)\//.test(url);
const cartsOf = () => Promise.all([users.customer.id, users.customerB.id, users.staff.id].map((id) => t.services.cart.getCart(id)));

/** Refusals that come before a body is read: who asks, how often, the media type, no route. */
const BEFORE_THE_BODY = new Set([401, 403, 404, 405, 414, 415, 429]);

/**
 * What the document says of this request's body, checked on its answer: deeper than the depth
 * limit is a 400 naming `body`, up to it never that refusal; longer than `x-body-limit` is a 413,
 * up to it never a 413.
 */
function checkBodyRules(op: Operation, request: FuzzRequest, res: { statusCode: number; json: () => unknown }, where: string) {
  if (op.bodyLimit === undefined || request.payload === undefined || !request.headers['content-type']?.startsWith('application/json')) return;
  const bytes = Buffer.byteLength(request.payload);
  const problem = res.statusCode >= 400 ? (res.json() as { code?: string; errors?: Array<{ field: string; message: string }> }) : undefined;
  const depthRefusal = problem?.code === 'validation_failed' && (problem.errors ?? []).some((e) => e.field === 'body' && /nest deeper/.test(e.message));
  // Refused before the body was looked at: who asks, how often, the media type, no route, or the
  // URL itself (a 400 naming no field: the router's "not a valid url component").
  const earlier = BEFORE_THE_BODY.has(res.statusCode) || (res.statusCode === 400 && problem?.errors === undefined);
  if (bytes > op.bodyLimit) {
    tally.bodies.overLimit++;
    if (!earlier) expect(res.statusCode, `${where}: ${bytes} bytes, over x-body-limit ${op.bodyLimit}`).toBe(413);
    return;
  }
  tally.bodies.withinLimit++;
  expect(res.statusCode, `${where}: ${bytes} bytes, within x-body-limit ${op.bodyLimit}`).not.toBe(413);
  let parses = true;
  try {
    JSON.parse(request.payload);
  } catch {
    parses = false;
  }
  if (!parses) return;
  const depth = nestingDepth(request.payload);
  if (depth > MAX_DEPTH) {
    tally.bodies.tooDeep++;
    if (!earlier) expect(depthRefusal, `${where}: nests ${depth} levels, over the document's ${MAX_DEPTH}`).toBe(true);
  } else {
    tally.bodies.shallow++;
    expect(depthRefusal, `${where}: nests ${depth} levels, within the document's ${MAX_DEPTH}`).toBe(false);
  }
}

/** Sends one request and checks the answer; a 4xx must leave the state as it was. */
async function check(op: Operation, request: FuzzRequest): Promise<void> {
  const before = lastFigures ?? (await changes());
  const cartsBefore = touchesCarts(request.url) ? await cartsOf() : undefined;
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
  // Before signing in again below, which changes tokens.
  const after = await changes();
  lastFigures = after;
  const cartsAfter = cartsBefore && res.statusCode >= 400 ? await cartsOf() : undefined;
  if (signedIn(request.role)) {
    // A 401 sent with a token that no longer works means an earlier request ended this session
    // and was not noticed: this request did not test what it was meant to.
    if (res.statusCode === 401 && (await keepSignedIn(request.role))) tally.staleSessions++;
    if (res.statusCode < 300 && request.method !== 'GET') await keepSignedIn(request.role);
  }
  expect(res.statusCode, where).toBeLessThan(500);
  if (res.statusCode >= 400) {
    expect(res.headers['content-type'], where).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem.code, where).toEqual(expect.any(String));
    expect(problem.request_id, where).toBe(res.headers['x-request-id']);
    const changed = Object.keys(after).filter((table) => after[table] !== before[table]);
    expect(changed, `${where}: rows changed after a ${res.statusCode}`).toEqual([]);
    if (cartsAfter) expect(cartsAfter, `${where}: a cart changed after a ${res.statusCode}`).toEqual(cartsBefore);
  }
  checkBodyRules(op, request, res, where);
}

/** Long generated strings would flood the log: each value of the counterexample is cut short. */
function compactReport(details: fc.RunDetails<[FuzzRequest]>) {
  if (!details.failed) return;
  const cut = (v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length} chars, ${Buffer.byteLength(v)} bytes)` : v);
  const example = details.counterexample ? JSON.stringify(details.counterexample[0], (_k, v) => cut(v)) : 'none';
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `fuzz failure after ${details.numRuns} runs of this operation (seed ${SEED}; replay: ${REPLAY}; fast-check seed ${details.seed}, path ${details.counterexamplePath}, shrunk ${details.numShrinks}×)\n` +
      `request: ${example}\n${String(cause).slice(0, 1500)}`,
  );
}

describe('every operation of /openapi.json, fuzzed from its schemas', () => {
  it('the document lists the operations the fuzzer covers, with a body limit wherever a body is read', () => {
    expect(operations.length).toBeGreaterThanOrEqual(30);
    expect(operations.filter((op) => op.body).length).toBeGreaterThanOrEqual(10);
    expect(operations.filter((op) => op.body && op.bodyLimit === undefined)).toEqual([]);
  });

  // One test per operation, so a failure names it; each its own seed, drawn from the run's.
  it.each(operations.map((op, i) => [`${op.method} ${op.path}`, op, i] as const))('%s', async (_name, op: Operation, index: number) => {
    await fc.assert(
      fc.asyncProperty(requestArbitrary(document, op, { uuids, slugs: pool.slug! }, pool), (request) => check(op, request)),
      { numRuns: RUNS, seed: (SEED + index * 7919) | 0, reporter: compactReport },
    );
  }, 600_000);

  it('every request sent as a signed-in user ran as that user, and bodies of every depth and size were sent', () => {
    expect(tally.cases).toBeGreaterThanOrEqual(REQUESTS);
    expect(tally.staleSessions).toBe(0);
    const { shallow, tooDeep, withinLimit, overLimit } = tally.bodies;
    expect(Math.min(shallow, tooDeep, withinLimit, overLimit)).toBeGreaterThan(0);
  });
});

