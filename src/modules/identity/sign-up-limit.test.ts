/**
 * Security review (issue 23), finding 4, its registration part: sign-ups per client address per
 * hour are limited by default, and so are email changes (finding 13: both tell whether an email
 * has an account).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { loadConfig } from '../../platform/config.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { REGISTRATION_MAX_PER_HOUR: '3' } });
});
afterAll(() => t.close());

const unique = () => `s${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const register = (remoteAddress: string, password = 'correct horse battery staple') => {
  const username = unique();
  return t.app.inject({ method: 'POST', url: '/api/identity/register/', payload: { username, email: `${username}@example.com`, password }, remoteAddress });
};

describe('sign-ups per address (security review, finding 4)', () => {
  it('is limited by default', () => {
    expect(loadConfig({}).auth.registrationMaxPerHour).toBe(10);
  });

  it('refuses the address past REGISTRATION_MAX_PER_HOUR with 429 and Retry-After; others sign up', async () => {
    const from = '10.70.0.1';
    // A refused weak password costs nothing and tells nothing: it does not count.
    expect((await register(from, 'short')).statusCode).toBe(400);
    for (let i = 0; i < 3; i++) expect((await register(from)).statusCode).toBe(201);
    const refused = await register(from);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('rate_limited');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect((await register('10.70.0.2')).statusCode).toBe(201);
  });

  it('counts email changes in the same budget, so neither path lists who has an account', async () => {
    const from = '10.70.1.1';
    const user = await createUser(t);
    const taken = await createUser(t);
    const change = (email: string) =>
      t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: user.auth, payload: { email, current_password: user.password }, remoteAddress: from });
    expect((await change(`${taken.username.toLowerCase()}@example.com`)).statusCode).toBe(409);
    expect((await change(`${unique()}@example.com`)).statusCode).toBe(200);
    expect((await register(from)).statusCode).toBe(201);
    expect((await change(`${unique()}@example.com`)).statusCode).toBe(429);
  });
});
