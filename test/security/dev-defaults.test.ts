/**
 * Issue 23, finding 11: a development server (no settings) listened on every interface, so anyone
 * on the same network reached it. Outside production the default is loopback; the image, compose
 * and the AWS stack say HOST=0.0.0.0 themselves.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { NODE_ENV: 'development' } });
});
afterAll(() => t?.close());

describe('development defaults', () => {
  it('listens on loopback only unless HOST says otherwise', async () => {
    const { host, port } = t.services.config.http;
    expect(host).toBe('127.0.0.1');
    await t.app.listen({ host, port: 0 });
    expect((t.app.server.address() as AddressInfo).address).toBe('127.0.0.1');
    expect(port).toBe(8000);
    const live = await fetch(`http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/health/live`);
    expect(live.status).toBe(200);
  });

  it('keeps HOST when set, and 0.0.0.0 in production', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).http.host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), SMTP_URL: 'smtp://127.0.0.1:1' }).http.host).toBe('0.0.0.0');
  });
});
