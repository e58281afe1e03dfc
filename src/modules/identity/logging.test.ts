import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { sql } from '../../platform/db.ts';
import { findUserByUsername } from './repo.ts';

let t: TestApp;
const lines: string[] = [];
beforeAll(async () => {
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  t = await buildTestApp({ logStream, env: { LOGIN_MAX_FAILURES: '2' } });
});
afterAll(() => t.close());

describe('credentials never reach a response or the log', () => {
  it('keeps passwords, hashes and refresh tokens out of both', async () => {
    const password = 'Secret-Passphrase-0123';
    const username = 'log-watcher';
    const bodies: string[] = [];
    const send = async (method: 'POST' | 'GET', url: string, payload?: object, authorization?: string) => {
      const res = await t.app.inject({ method, url: `/api/identity/${url}`, ...(payload ? { payload } : {}), ...(authorization ? { headers: { authorization } } : {}) });
      bodies.push(res.body);
      return res;
    };
    expect((await send('POST', 'register/', { username, email: 'log-watcher@example.com', password, password2: password })).statusCode).toBe(201);
    expect((await send('POST', 'register/', { username, email: 'other@example.com', password: 'password123' })).statusCode).toBe(400);
    expect((await send('POST', 'token/', { username, password: `${password}-wrong` })).statusCode).toBe(401);
    const tokens = (await send('POST', 'token/', { username, password })).json();
    const refreshed = (await send('POST', 'token/refresh/', { refresh: tokens.refresh })).json();
    await send('POST', 'token/refresh/', { refresh: tokens.refresh }); // reuse: logged as a warning
    await send('GET', 'me/', undefined, `Bearer ${refreshed.access}`);
    await send('POST', 'token/', { username, password: 'wrong-again-1' });
    await send('POST', 'token/', { username, password: 'wrong-again-2' }); // blocked: 429

    const hash = (await findUserByUsername(t.services.db.primary, username))!.passwordHash;
    const log = lines.join('');
    expect(log).toContain('signed in'); // the capture works
    for (const secret of [password, `${password}-wrong`, 'wrong-again-1', hash, hash.split('$').pop()!]) {
      expect(log).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    }
    // Tokens belong in their own responses only, never in the log.
    for (const token of [tokens.refresh, refreshed.refresh, refreshed.access]) expect(log).not.toContain(token);
    for (const body of bodies) expect(body).not.toMatch(/\$argon2/);
    expect(log).not.toMatch(/\$argon2/);
  });
});

describe('a failing query in the log', () => {
  it('names the query but not its parameters (a password hash among them)', async () => {
    const password = 'Another-Secret-Passphrase-77';
    const username = 'fault-watcher';
    // Every new user row now fails inside the database: registration answers 500.
    await t.services.db.primary.execute(sql`alter table identity.users add constraint no_new_users check (false) not valid`);
    try {
      const res = await t.app.inject({ method: 'POST', url: '/api/identity/register/', payload: { username, email: 'fault@example.com', password } });
      expect(res.statusCode).toBe(500);
    } finally {
      await t.services.db.primary.execute(sql`alter table identity.users drop constraint no_new_users`);
    }
    const failed = lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string; stack: string } }).find((l) => l.msg === 'request failed');
    expect(failed?.err?.message).toMatch(/insert into "identity"."users"/);
    const log = lines.join('');
    expect(log).not.toContain(password);
    expect(log).not.toMatch(/\$argon2/);
    expect(log).not.toContain('fault@example.com');
  });
});
