/** /admin/: the committed console build, served with a CSP of its own (nonce for styles, no inline script). */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

describe('GET /admin/', () => {
  it('serves the page with a fresh style nonce in both the page and its policy', async () => {
    const [first, second] = [await t.app.inject('/admin/'), await t.app.inject('/admin')];
    for (const res of [first, second]) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const nonce = /<meta name="csp-nonce" content="([^"]+)"/.exec(res.body)?.[1];
      expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      const policy = String(res.headers['content-security-policy']);
      expect(policy).toContain(`style-src 'self' 'nonce-${nonce}'`);
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toContain('unsafe-inline');
      expect(res.body).not.toContain('__CSP_NONCE__');
    }
    expect(first.body).not.toBe(second.body);
  });

  it('serves the hashed assets for good, and nothing outside them', async () => {
    const [asset] = readdirSync('console/dist/assets');
    const res = await t.app.inject(`/admin/assets/${asset}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toMatch(/immutable/);
    expect((await t.app.inject('/admin/assets/../index.html')).statusCode).toBe(404);
    expect((await t.app.inject('/admin/assets/missing.js')).statusCode).toBe(404);
  });

  it('asks for no token: the page is public, the data behind it is not', async () => {
    expect((await t.app.inject('/admin/')).statusCode).toBe(200);
    expect((await t.app.inject('/api/orders/orders/')).statusCode).toBe(401);
  });
});
