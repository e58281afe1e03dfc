import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_SECONDS: '600' } });
});
afterAll(() => t.close());

const attempt = (username: string, password: string, remoteAddress: string) =>
  t.app.inject({ method: 'POST', url: '/api/identity/token/', payload: { username, password }, remoteAddress });

describe('login throttling', () => {
  it('blocks a username after LOGIN_MAX_FAILURES failures, whatever the address, with Retry-After', async () => {
    const user = await createUser(t);
    for (let i = 0; i < 3; i++) expect((await attempt(user.username, 'wrong-password-x', `10.20.0.${i}`)).statusCode).toBe(401);
    // The right password too: otherwise the guessing would simply go on.
    const blocked = await attempt(user.username.toUpperCase(), user.password, '10.20.1.1');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().code).toBe('rate_limited');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another account is not affected.
    const other = await createUser(t);
    expect((await attempt(other.username, other.password, '10.20.1.2')).statusCode).toBe(200);
  });

  it('blocks an address that fails for many usernames', async () => {
    const victim = await createUser(t);
    for (let i = 0; i < 3; i++) expect((await attempt(`nobody-${i}`, 'wrong-password-x', '10.30.0.1')).statusCode).toBe(401);
    const blocked = await attempt(victim.username, victim.password, '10.30.0.1');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    expect((await attempt(victim.username, victim.password, '10.30.0.2')).statusCode).toBe(200);
  });

  it('forgets a username’s failures after a successful login', async () => {
    const user = await createUser(t);
    for (let round = 0; round < 3; round++) {
      const address = `10.40.${round}.1`;
      for (let i = 0; i < 2; i++) expect((await attempt(user.username, 'wrong-password-x', address)).statusCode).toBe(401);
      expect((await attempt(user.username, user.password, address)).statusCode).toBe(200);
    }
  });

  it('lets the owner back in once the back-off has passed (never a permanent lock)', async () => {
    const user = await createUser(t);
    for (let i = 0; i < 3; i++) await attempt(user.username, 'wrong-password-x', `10.50.0.${i}`);
    expect((await attempt(user.username, user.password, '10.50.1.1')).statusCode).toBe(429);
    // Move the block's end into the past, as time would.
    await t.services.kv.set(`identity:login-blocked:user:${user.username.toLowerCase()}`, String(Date.now() - 1), 60);
    expect((await attempt(user.username, user.password, '10.50.1.1')).statusCode).toBe(200);
  });
});
