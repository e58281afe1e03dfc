/**
 * The typed client against the real server, in-process and listening on a free port: typed calls,
 * problem+json errors with their code, the refresh rotation (one refresh and one retry on
 * invalid_token; a refused refresh signs the user out) and one Idempotency-Key per logical order.
 * Every answer it receives is checked against the document, as the inject hook does.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createContractChecker, type OpenApiDocument } from '../../../test/helpers/contract-check.ts';
import { ContractViolation } from '../../../test/helpers/contract-hook.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { createOpplyClient, memoryTokenStore, type ClientOptions } from '../src/client.ts';

let t: TestApp;
let baseUrl: string;
const sent: Request[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(() => t.close());

/** Real fetch over the socket; every answer checked against the document the server serves. */
async function checkedFetch(request: Request): Promise<Response> {
  sent.push(request.clone());
  const response = await fetch(request);
  const { check } = createContractChecker(t.app.swagger() as unknown as OpenApiDocument);
  const url = new URL(request.url);
  const problems = check({
    method: request.method,
    url: url.pathname + url.search,
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.clone().text(),
  });
  if (problems.length > 0) throw new ContractViolation(`${request.method} ${url.pathname} → ${response.status}: ${problems.join('; ')}`);
  return response;
}

let counter = 0;
async function signedInClient(extra: Partial<ClientOptions> = {}) {
  const username = `client${++counter}_${Date.now()}`;
  const password = 'a long client-test passphrase';
  const client = createOpplyClient({ baseUrl, fetch: checkedFetch, tokens: memoryTokenStore(), ...extra });
  const registered = await client.api.POST('/api/identity/register/', { body: { username, email: `${username}@example.com`, password } });
  expect(registered.response.status).toBe(201);
  expect((await client.login(username, password)).response.status).toBe(200);
  return client;
}

const refreshCalls = () => sent.filter((r) => r.url.endsWith('/api/identity/token/refresh/')).length;

describe('typed client', () => {
  it('makes typed calls and decodes problem+json errors with their code', async () => {
    const client = await signedInClient();
    const product = await createProduct(t, { stock: 5 });
    const page = await client.api.GET('/api/catalog/products/', { params: { query: { limit: 100 } } });
    expect(page.data?.results.map((p) => p.id)).toContain(product.id);
    const missing = await client.api.GET('/api/catalog/products/{id}/', { params: { path: { id: '01890000-0000-7000-8000-000000000000' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.code).toBe('not_found');
  });

  it('on 401 invalid_token refreshes once, retries once, and keeps the rotated pair', async () => {
    const client = await signedInClient();
    const before = (await client.tokens.get())!;
    await client.tokens.set({ ...before, access: 'expired.or.revoked' });
    const refreshesBefore = refreshCalls();
    const [a, b, c] = await Promise.all([client.api.GET('/api/identity/me/'), client.api.GET('/api/identity/me/'), client.api.GET('/api/cart/')]);
    expect([a.response.status, b.response.status, c.response.status]).toEqual([200, 200, 200]);
    expect(refreshCalls() - refreshesBefore).toBe(1);
    const after = (await client.tokens.get())!;
    expect(after.refresh).not.toBe(before.refresh);
    expect(after.access).not.toBe('expired.or.revoked');
  });

  it('signs the user out when the refresh token was already used (rotation reuse)', async () => {
    const onSignedOut = vi.fn();
    const client = await signedInClient({ onSignedOut });
    const tokens = (await client.tokens.get())!;
    // Another device (or an attacker) rotated this refresh token first.
    const rotated = await fetch(`${baseUrl}/api/identity/token/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: tokens.refresh }) });
    expect(rotated.status).toBe(200);
    await client.tokens.set({ ...tokens, access: 'expired.or.revoked' });
    const me = await client.api.GET('/api/identity/me/');
    expect(me.response.status).toBe(401);
    expect(me.error?.code).toBe('invalid_token');
    expect(onSignedOut).toHaveBeenCalledTimes(1);
    expect(onSignedOut.mock.calls[0]![0]).toMatchObject({ code: 'invalid_token' });
    expect(await client.tokens.get()).toBeUndefined();
  });

  it('sends one Idempotency-Key per logical order and the same key on its retries', async () => {
    let failNext = true;
    // The first answer is lost on the way back (the server did place the order): the retry must not order twice.
    const flaky = async (request: Request) => {
      const response = await checkedFetch(request);
      if (failNext && request.url.endsWith('/api/orders/orders/')) {
        failNext = false;
        throw new TypeError('network connection lost');
      }
      return response;
    };
    const client = await signedInClient({ fetch: flaky, maxRetryDelayMs: 10 });
    const product = await createProduct(t, { stock: 10 });
    const first = await client.placeOrder([{ product: product.id, quantity: 2 }]);
    expect(first.response.status).toBe(201);
    expect(first.response.headers.get('idempotent-replayed')).toBe('true');
    const keys = sent.filter((r) => r.method === 'POST' && r.url.endsWith('/api/orders/orders/')).slice(-2).map((r) => r.headers.get('idempotency-key'));
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
    const history = await client.api.GET('/api/orders/orders/');
    expect(history.data?.count).toBe(1);
    const second = await client.placeOrder([{ product: product.id, quantity: 1 }]);
    expect(second.idempotencyKey).not.toBe(first.idempotencyKey);
    expect((await client.api.GET('/api/orders/orders/')).data?.count).toBe(2);
  });
});
