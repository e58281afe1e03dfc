import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

const me = (authorization: string) => t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: { authorization } });
const post = (url: string, payload: object, headers: Record<string, string> = {}, remoteAddress?: string) =>
  t.app.inject({ method: 'POST', url: `/api/identity/${url}`, payload, headers, ...(remoteAddress ? { remoteAddress } : {}) });

function withoutRequestId(body: Record<string, unknown>) {
  const { request_id: _ignored, ...rest } = body;
  return rest;
}

/** A token signed with the real secret but claims chosen by the test. */
async function forge(claims: Record<string, unknown>, opts: { alg?: string; exp?: number; secret?: string } = {}) {
  const { auth } = t.services.config;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'customer', username: 'x', sid: '00000000-0000-7000-8000-000000000000', ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'HS256' })
    .setIssuer(auth.jwtIssuer)
    .setAudience(auth.jwtAudience)
    .setJti('forged')
    .setIssuedAt(now - 60)
    .setExpirationTime(opts.exp ?? now + 60)
    .sign(new TextEncoder().encode(opts.secret ?? auth.jwtSecret));
}

describe('POST token/', () => {
  it('answers an access and a refresh token', async () => {
    const user = await createUser(t);
    const res = await post('token/', { username: user.username, password: user.password }, {}, '10.1.0.1');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({ access: expect.any(String), refresh: expect.any(String), token_type: 'Bearer', expires_in: 300 });
    const [, payload] = body.access.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    expect(claims).toMatchObject({ sub: user.id, role: 'customer', iss: 'opply-commerce', aud: 'opply-commerce-api' });
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.exp - claims.iat).toBe(300);
  });

  it('signs in whatever the case of the username', async () => {
    const user = await createUser(t, { username: `MixedCase${Date.now()}` });
    const res = await post('token/', { username: user.username.toLowerCase(), password: user.password }, {}, '10.1.0.2');
    expect(res.statusCode).toBe(200);
  });

  it('gives a wrong password and an unknown user the same 401', async () => {
    const user = await createUser(t);
    const wrong = await post('token/', { username: user.username, password: 'not-the-password-1' }, {}, '10.1.0.3');
    const unknown = await post('token/', { username: 'nobody-by-that-name', password: 'not-the-password-1' }, {}, '10.1.0.4');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().code).toBe('not_authenticated');
    expect(withoutRequestId(wrong.json())).toEqual(withoutRequestId(unknown.json()));
  });

  it('refuses a missing field with 400', async () => {
    const res = await post('token/', { username: 'someone' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('validation_failed');
  });
});

describe('access tokens', () => {
  it('refuses a request without a token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/identity/me/' });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('not_authenticated');
  });

  it('refuses an expired token', async () => {
    const user = await createUser(t);
    const token = await forge({ sub: user.id, username: user.username }, { exp: Math.floor(Date.now() / 1000) - 5 });
    const res = await me(`Bearer ${token}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('invalid_token');
  });

  it('accepts a token forged with the real secret, so the refusals above are about the claims', async () => {
    const user = await createUser(t);
    expect((await me(`Bearer ${await forge({ sub: user.id, username: user.username })}`)).statusCode).toBe(200);
  });

  it('refuses a tampered token', async () => {
    const user = await createUser(t);
    const [header, payload, signature] = user.access.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const promoted = Buffer.from(JSON.stringify({ ...claims, role: 'staff' })).toString('base64url');
    const res = await me(`Bearer ${header}.${promoted}.${signature}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('invalid_token');
  });

  it('refuses alg: none', async () => {
    const user = await createUser(t);
    const [, payload] = user.access.split('.');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    for (const token of [`${none}.${payload}.`, `${none}.${payload}`]) {
      const res = await me(`Bearer ${token}`);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('invalid_token');
    }
  });

  it('refuses another algorithm, another secret, another audience', async () => {
    const user = await createUser(t);
    const claims = { sub: user.id, username: user.username };
    const tokens = [
      await forge(claims, { alg: 'HS512' }),
      await forge(claims, { secret: 'another-secret-another-secret-another-secret' }),
      await new SignJWT({ ...claims, role: 'customer', sid: 'x' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(t.services.config.auth.jwtIssuer)
        .setAudience('another-api')
        .setJti('x')
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(t.services.config.auth.jwtSecret)),
      'not.a.jwt',
    ];
    for (const token of tokens) expect((await me(`Bearer ${token}`)).statusCode).toBe(401);
  });
});

describe('POST token/verify/', () => {
  it('answers 200 {} for a valid token and 401 otherwise', async () => {
    const user = await createUser(t);
    const ok = await post('token/verify/', { token: user.access });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({});
    const bad = await post('token/verify/', { token: `${user.access}x` });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().code).toBe('invalid_token');
  });
});

describe('POST token/refresh/', () => {
  it('rotates: a new pair, and the old refresh token no longer works', async () => {
    const user = await createUser(t);
    const first = await post('token/refresh/', { refresh: user.refresh });
    expect(first.statusCode).toBe(200);
    expect(Object.keys(first.json()).sort()).toEqual(['access', 'refresh']);
    expect(first.json().refresh).not.toBe(user.refresh);
    expect((await me(`Bearer ${first.json().access}`)).statusCode).toBe(200);
    const second = await post('token/refresh/', { refresh: first.json().refresh });
    expect(second.statusCode).toBe(200);
  });

  it('revokes the whole family when a used token comes back', async () => {
    const user = await createUser(t);
    const rotated = (await post('token/refresh/', { refresh: user.refresh })).json();
    const reuse = await post('token/refresh/', { refresh: user.refresh });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('invalid_token');
    // The newest refresh token of the family, and the access tokens of the session, die with it.
    expect((await post('token/refresh/', { refresh: rotated.refresh })).statusCode).toBe(401);
    expect((await me(`Bearer ${rotated.access}`)).statusCode).toBe(401);
    expect((await me(user.auth.authorization)).statusCode).toBe(401);
    // Other sessions of the same user are not touched.
    const other = await login(t, user.username, user.password);
    expect((await me(`Bearer ${other.access}`)).statusCode).toBe(200);
    expect((await post('token/refresh/', { refresh: other.refresh })).statusCode).toBe(200);
  });

  it('refuses an unknown refresh token', async () => {
    const res = await post('token/refresh/', { refresh: 'made-up-token' });
    expect(res.statusCode).toBe(401);
  });
});

describe('POST logout/', () => {
  it('ends the session: its refresh and access tokens stop working', async () => {
    const user = await createUser(t);
    const other = await login(t, user.username, user.password);
    const res = await post('logout/', { refresh: user.refresh }, user.auth);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await post('token/refresh/', { refresh: user.refresh })).statusCode).toBe(401);
    expect((await me(user.auth.authorization)).statusCode).toBe(401);
    // The other session goes on.
    expect((await me(`Bearer ${other.access}`)).statusCode).toBe(200);
  });

  it("cannot end someone else's session", async () => {
    const alice = await createUser(t);
    const mallory = await createUser(t);
    expect((await post('logout/', { refresh: alice.refresh }, mallory.auth)).statusCode).toBe(204);
    expect((await post('token/refresh/', { refresh: alice.refresh })).statusCode).toBe(200);
  });

  it('requires a signed-in user', async () => {
    expect((await post('logout/', { refresh: 'x' })).statusCode).toBe(401);
  });
});
