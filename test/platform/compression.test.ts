/**
 * Content coding over HTTP: cached catalog pages in br, gzip or plain are the same JSON, each
 * coding with its own strong ETag and `Vary: Accept-Encoding`; pages with live holds too; answers
 * that carry tokens or webhook secrets are never compressed (BREACH); a revoked token is refused at once although its
 * signature check is cached.
 */
import { randomUUID } from 'node:crypto';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
/** An app that compresses every JSON answer whatever its length. */
let everything: TestApp;
let someone: TestUser;
let staff: TestUser;
let customer: TestUser;
let slug: string;
let first: string;

beforeAll(async () => {
  t = await buildTestApp();
  everything = await buildTestApp({ env: { COMPRESSION_MIN_BYTES: '0' } });
  someone = await createUser(everything);
  staff = await createUser(t, { staff: true });
  customer = await createUser(t);
  slug = `z-${randomUUID().slice(0, 8)}`;
  expect((await t.app.inject({ method: 'POST', url: '/api/catalog/categories/', headers: staff.auth, payload: { slug, name: 'Zipped' } })).statusCode).toBe(201);
  for (let i = 0; i < 12; i++) {
    const payload = { name: `Zipped ${i}`, description: 'Roasted lightly, packed by hand, shipped the same day. '.repeat(2), price: '4.50', quantity: 10, category: slug };
    const res = await t.app.inject({ method: 'POST', url: '/api/catalog/products/', headers: staff.auth, payload });
    expect(res.statusCode).toBe(201);
    if (i === 0) first = res.json().id;
  }
});
afterAll(async () => {
  await everything?.close();
  await t?.close();
});

const pageUrl = () => `/api/catalog/products/?category=${slug}&limit=20`;
const get = (app: TestApp, url: string, headers: Record<string, string> = {}) =>
  app.app.inject({ method: 'GET', url, headers: { ...(app === t ? customer : someone).auth, ...headers } });

/** The JSON bytes an answer carries, decoded as its Content-Encoding says. */
function decoded(res: { rawPayload: Buffer; headers: Record<string, unknown> }): string {
  const coding = res.headers['content-encoding'];
  if (coding === 'br') return brotliDecompressSync(res.rawPayload).toString();
  if (coding === 'gzip') return gunzipSync(res.rawPayload).toString();
  expect(coding).toBeUndefined();
  return res.rawPayload.toString();
}

describe('cached catalog pages', () => {
  it('answers br, gzip or plain as the client accepts, the same JSON in each, each with its own ETag and Vary', async () => {
    const plain = await get(t, pageUrl());
    expect(plain.statusCode).toBe(200);
    expect(plain.rawPayload.length).toBeGreaterThan(1024);
    const json = decoded(plain);
    expect(JSON.parse(json).results).toHaveLength(12);
    const tags = new Set<string>();
    for (const [accept, coding] of [
      ['br', 'br'],
      ['gzip', 'gzip'],
      ['gzip, deflate, br', 'br'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=0, gzip;q=0', undefined],
      ['identity', undefined],
    ] as const) {
      // Twice: the page built, then the cached bytes.
      for (let i = 0; i < 2; i++) {
        const res = await get(t, pageUrl(), { 'accept-encoding': accept });
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-encoding']).toBe(coding);
        expect(res.headers['vary']).toMatch(/accept-encoding/i);
        expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length);
        if (coding) expect(res.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
        expect(decoded(res)).toBe(json);
        tags.add(String(res.headers['etag']));
      }
    }
    expect(plain.headers['vary']).toMatch(/accept-encoding/i);
    // One strong tag per representation: plain, br, gzip.
    expect(tags).toEqual(new Set([plain.headers['etag'], (await get(t, pageUrl(), { 'accept-encoding': 'br' })).headers['etag'], (await get(t, pageUrl(), { 'accept-encoding': 'gzip' })).headers['etag']]));
    expect(tags.size).toBe(3);
    for (const tag of tags) expect(tag).toMatch(/^"[^"]+"$/);
  });

  it('answers 304 only for the tag of the representation it would send', async () => {
    const gz = await get(t, pageUrl(), { 'accept-encoding': 'gzip' });
    const plain = await get(t, pageUrl());
    const again = await get(t, pageUrl(), { 'accept-encoding': 'gzip', 'if-none-match': String(gz.headers['etag']) });
    expect(again.statusCode).toBe(304);
    expect(again.headers['etag']).toBe(gz.headers['etag']);
    expect(again.headers['vary']).toMatch(/accept-encoding/i);
    expect(again.rawPayload.length).toBe(0);
    // The weak form of the same tag matches too (If-None-Match compares weakly).
    expect((await get(t, pageUrl(), { 'accept-encoding': 'gzip', 'if-none-match': `W/${String(gz.headers['etag'])}` })).statusCode).toBe(304);
    // The plain copy's tag does not validate the gzip copy, nor the other way round.
    const other = await get(t, pageUrl(), { 'accept-encoding': 'gzip', 'if-none-match': String(plain.headers['etag']) });
    expect(other.statusCode).toBe(200);
    expect(other.headers['content-encoding']).toBe('gzip');
    expect((await get(t, pageUrl(), { 'if-none-match': String(gz.headers['etag']) })).statusCode).toBe(200);
    expect((await get(t, pageUrl(), { 'if-none-match': String(plain.headers['etag']) })).statusCode).toBe(304);
  });

  it('serves kept bytes on a hit: no holds, the same kept page; with holds, one page per state of its holds', async () => {
    const request = { query: { category: slug, limit: 20 }, baseUrl: 'http://localhost:80', path: '/api/catalog/products/' };
    await get(t, pageUrl());
    const a = await t.services.catalog.listProducts(request);
    // Compressed when it was built and kept beside the plain bytes.
    expect(a.coded.br).toBeDefined();
    expect(a.coded.gzip).toBeDefined();
    expect(await t.services.catalog.listProducts(request)).toBe(a);

    const put = await t.app.inject({ method: 'PUT', url: `/api/cart/items/${first}/`, headers: customer.auth, payload: { quantity: 3 } });
    expect(put.statusCode).toBe(200);
    const held = await get(t, pageUrl(), { 'accept-encoding': 'br' });
    expect(held.headers['content-encoding']).toBe('br');
    const page = JSON.parse(decoded(held)) as { results: Array<{ id: string; quantity: number }> };
    expect(page.results.find((p) => p.id === first)!.quantity).toBe(7);
    expect(decoded(await get(t, pageUrl()))).toBe(decoded(held));
    const b = await t.services.catalog.listProducts(request);
    expect(b).not.toBe(a);
    expect(await t.services.catalog.listProducts(request)).toBe(b);
    expect((await get(t, pageUrl(), { 'accept-encoding': 'br' })).headers['etag']).toBe(held.headers['etag']);

    // Another state of the holds: another page; back to none: the kept one again.
    await t.app.inject({ method: 'PUT', url: `/api/cart/items/${first}/`, headers: customer.auth, payload: { quantity: 1 } });
    const c = JSON.parse(decoded(await get(t, pageUrl(), { 'accept-encoding': 'gzip' }))) as typeof page;
    expect(c.results.find((p) => p.id === first)!.quantity).toBe(9);
    await t.app.inject({ method: 'DELETE', url: `/api/cart/items/${first}/`, headers: customer.auth });
    expect(await t.services.catalog.listProducts(request)).toBe(a);
  });

  it('sends a short answer plain, without Vary', async () => {
    const res = await get(t, `/api/catalog/products/${first}/`, { 'accept-encoding': 'br, gzip' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.length).toBeLessThan(1024);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['vary'] ?? '').not.toMatch(/accept-encoding/i);
  });
});

describe('other answers', () => {
  it('compresses serialized JSON answers and errors above the threshold', async () => {
    const me = await get(everything, '/api/identity/me/', { 'accept-encoding': 'gzip' });
    expect(me.statusCode).toBe(200);
    expect(me.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(decoded(me)).username).toBe(someone.username);
    const missing = await get(everything, `/api/catalog/products/${randomUUID()}/`, { 'accept-encoding': 'br' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-encoding']).toBe('br');
    expect(JSON.parse(decoded(missing)).code).toBe('not_found');
  });

  it('serves /openapi.json compressed, the same document', async () => {
    const plain = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    const br = await t.app.inject({ method: 'GET', url: '/openapi.json', headers: { 'accept-encoding': 'br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toMatch(/accept-encoding/i);
    expect(br.rawPayload.length).toBeLessThan(plain.rawPayload.length / 4);
    expect(decoded(br)).toBe(plain.rawPayload.toString());
    expect(JSON.parse(decoded(br)).openapi).toBe('3.1.0');
  });

  it('never compresses answers that carry tokens, however long', async () => {
    const accept = { 'accept-encoding': 'br, gzip' };
    const username = `zip_${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    const register = await everything.app.inject({ method: 'POST', url: '/api/identity/register/', headers: accept, payload: { username, email: `${username}@example.com`, password } });
    expect(register.statusCode).toBe(201);
    const token = await everything.app.inject({ method: 'POST', url: '/api/identity/token/', headers: accept, payload: { username, password }, remoteAddress: '10.200.0.1' });
    expect(token.statusCode).toBe(200);
    const refresh = await everything.app.inject({ method: 'POST', url: '/api/identity/token/refresh/', headers: accept, payload: { refresh: token.json().refresh } });
    expect(refresh.statusCode).toBe(200);
    for (const res of [register, token, refresh]) {
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers['vary'] ?? '').not.toMatch(/accept-encoding/i);
      expect(() => JSON.parse(res.body)).not.toThrow();
    }
    expect(refresh.json().access).toEqual(expect.any(String));
  });

  it('never compresses answers that carry a webhook secret', async () => {
    const boss = await createUser(everything, { staff: true });
    const headers = { ...boss.auth, 'accept-encoding': 'br, gzip' };
    const created = await everything.app.inject({ method: 'POST', url: '/api/webhooks/subscriptions/', headers, payload: { url: 'http://127.0.0.1:9/hook', events: ['*'] } });
    expect(created.statusCode).toBe(201);
    const rotated = await everything.app.inject({ method: 'POST', url: `/api/webhooks/subscriptions/${created.json().id}/rotate-secret/`, headers });
    expect(rotated.statusCode).toBe(200);
    for (const res of [created, rotated]) {
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.json().secret).toMatch(/^whsec_/);
    }
    // The same staff member's list (no secrets) is compressed.
    const listed = await everything.app.inject({ method: 'GET', url: '/api/webhooks/subscriptions/', headers });
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['content-encoding']).toBe('br');
  });
});

describe('cached token verification', () => {
  it('refuses a revoked token at once although its signature check is cached', async () => {
    const user = await createUser(t);
    for (let i = 0; i < 3; i++) expect((await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: user.auth })).statusCode).toBe(200);
    const logout = await t.app.inject({ method: 'POST', url: '/api/identity/logout/', headers: user.auth, payload: { refresh: user.refresh } });
    expect(logout.statusCode).toBe(204);
    const after = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: user.auth });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('invalid_token');

    const other = await createUser(t);
    expect((await t.app.inject({ method: 'GET', url: '/api/cart/', headers: other.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/identity/logout/all/', headers: other.auth })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/cart/', headers: other.auth })).statusCode).toBe(401);
  });
});
