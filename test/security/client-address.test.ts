/**
 * Issue 23, finding 1: behind an AWS load balancer (TRUST_PROXY=1) the client's address is the one
 * the balancer appended to `X-Forwarded-For`, not the first entry, which the client wrote itself.
 * With the whole chain trusted, a spoofed first entry escaped the general rate limit and the
 * per-address login throttle. Production settings; the balancer's header shape.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.ts';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';

const PER_MINUTE = 5;
const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_SECRET: 'x'.repeat(48),
  SMTP_URL: 'smtp://127.0.0.1:1',
  TRUST_PROXY: '1',
  RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
};
/** The balancer's own address: every request reaches the service from it. */
const BALANCER = '10.0.1.23';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: PRODUCTION });
});
afterAll(() => t?.close());

/** What an ALB forwards: the client's own header, then the address the balancer saw. */
const albHeaders = (realClient: string) => ({ 'x-forwarded-for': `198.51.100.${Math.floor(Math.random() * 250)}, ${realClient}` });

describe('behind one load balancer (TRUST_PROXY=1, production)', () => {
  it('a spoofed first X-Forwarded-For entry does not escape the general rate limit', async () => {
    // Twice the budget and one more: even when the minute turns during the loop, one minute gets
    // more than the budget.
    const statuses: number[] = [];
    for (let i = 0; i < 2 * PER_MINUTE + 1; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/api/catalog/categories/', remoteAddress: BALANCER, headers: albHeaders('203.0.113.7') });
      statuses.push(res.statusCode);
    }
    expect(statuses).toContain(429);
  });

  it('a spoofed first X-Forwarded-For entry does not escape the per-address login throttle', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/identity/token/',
        remoteAddress: BALANCER,
        headers: albHeaders('203.0.113.8'),
        payload: { username: `nobody-${randomUUID()}`, password: 'wrong-password' },
      });
      statuses.push(res.statusCode);
    }
    // Each guess names another username, so only the address counter can stop them: at the
    // sixth (LOGIN_MAX_FAILURES=5) at the latest. The general limit may answer 429 first.
    expect(statuses.slice(0, 5).every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(5);
  });

  it('clients behind the same balancer keep budgets of their own', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/catalog/categories/', remoteAddress: BALANCER, headers: albHeaders('203.0.113.99') });
    expect(res.statusCode).not.toBe(429);
  });
});

describe('TRUST_PROXY settings', () => {
  it('refuses true in production with a message that says what to set', () => {
    expect(() => loadConfig({ ...PRODUCTION, TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY=true is refused in production.*TRUST_PROXY=1/);
  });

  it('reads false, a hop count and a list of addresses or CIDRs', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/16, 192.168.1.4' }).http.trustProxy).toEqual(['10.0.0.0/16', '192.168.1.4']);
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
  });
});
