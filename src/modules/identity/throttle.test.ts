import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { queryRows, sql } from '../../platform/db.ts';

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

  // Security review, finding 3: five wrong guesses per quarter of an hour, from anywhere, kept any
  // account locked out. The per-user block now spares an address the account signed in from.
  it('lets the owner in from an address known to the account while strangers keep guessing', async () => {
    const user = await createUser(t);
    const home = '10.60.0.1';
    expect((await attempt(user.username, user.password, home)).statusCode).toBe(200);
    const strangers = async (round: number) => {
      for (let i = 0; i < 6; i++) expect([401, 429]).toContain((await attempt(user.username, 'wrong-password-x', `10.61.${round}.${i}`)).statusCode);
    };
    await strangers(0);
    // The per-user block stands for an address new to the account…
    expect((await attempt(user.username, user.password, '10.62.0.1')).statusCode).toBe(429);
    // …but not for the owner's, however often the strangers renew it.
    expect((await attempt(user.username, user.password, home)).statusCode).toBe(200);
    await strangers(1);
    expect((await attempt(user.username, user.password, home)).statusCode).toBe(200);
    expect((await attempt(user.username.toUpperCase(), user.password, home)).statusCode).toBe(200);
  });

  it('still throttles a known address after its own failures, and a fresh one after its own', async () => {
    const user = await createUser(t);
    const home = '10.63.0.1';
    expect((await attempt(user.username, user.password, home)).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await attempt(user.username, 'wrong-password-x', home)).statusCode).toBe(401);
    expect((await attempt(user.username, user.password, home)).statusCode).toBe(429);

    const other = await createUser(t);
    const fresh = '10.64.0.1';
    for (let i = 0; i < 3; i++) expect((await attempt(other.username, 'wrong-password-x', fresh)).statusCode).toBe(401);
    expect((await attempt(other.username, other.password, fresh)).statusCode).toBe(429);
  });

  it('stores no client address in the database, only a keyed hash, a few per account', async () => {
    const user = await createUser(t);
    for (let i = 0; i < 12; i++) expect((await attempt(user.username, user.password, `10.65.0.${i}`)).statusCode).toBe(200);
    const rows = await queryRows<{ address_hash: string }>(t.services.db.primary, sql`select address_hash from identity.known_addresses where user_id = ${user.id}`);
    expect(rows).toHaveLength(10);
    for (const row of rows) expect(row.address_hash).not.toMatch(/10\.65/);
  });
});

