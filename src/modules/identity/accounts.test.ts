import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, type TestUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let staff: TestUser;
beforeAll(async () => {
  t = await buildTestApp();
  staff = await createUser(t, { staff: true });
});
afterAll(() => t.close());

const unique = () => `u${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const register = (payload: object) => t.app.inject({ method: 'POST', url: '/api/identity/register/', payload });
const strong = 'correct horse battery staple';

function expectProblem(res: { statusCode: number; json: () => Record<string, unknown> }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.json().code).toBe(code);
  return res.json();
}

describe('POST register/', () => {
  it('creates an account and answers 201 {id, username, email} only', async () => {
    const name = unique();
    const res = await register({ username: name, email: `${name}@example.com`, password: strong, password2: strong });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), username: name, email: `${name}@example.com` });
  });

  it('refuses a taken username in any case with 409', async () => {
    const name = unique();
    expect((await register({ username: name, email: `${name}@example.com`, password: strong })).statusCode).toBe(201);
    const res = await register({ username: name.toUpperCase(), email: `other-${name}@example.com`, password: strong });
    expect(expectProblem(res, 409, 'conflict').detail).toMatch(/username/);
  });

  it('refuses a taken email in any case with 409', async () => {
    const name = unique();
    expect((await register({ username: name, email: `${name}@example.com`, password: strong })).statusCode).toBe(201);
    const res = await register({ username: unique(), email: `${name.toUpperCase()}@EXAMPLE.com`, password: strong });
    expect(expectProblem(res, 409, 'conflict').detail).toMatch(/email/);
  });

  it('refuses a short password, a common one, and one equal to the username with 400', async () => {
    const name = unique();
    for (const password of ['short1', 'password123', '1234567890', 'QwertyUiop', name]) {
      const res = await register({ username: name, email: `${name}@example.com`, password });
      const body = expectProblem(res, 400, 'validation_failed');
      expect(body.errors).toEqual([expect.objectContaining({ field: 'password' })]);
    }
    // Nothing was written: the name is still free.
    expect((await register({ username: name, email: `${name}@example.com`, password: strong })).statusCode).toBe(201);
  });

  it('refuses a password2 that does not match with 400', async () => {
    const name = unique();
    const res = await register({ username: name, email: `${name}@example.com`, password: strong, password2: `${strong}!` });
    expect(expectProblem(res, 400, 'validation_failed').errors).toEqual([expect.objectContaining({ field: 'password2' })]);
  });

  it('refuses a malformed email, a bad username and a missing field with 400', async () => {
    for (const payload of [
      { username: unique(), email: 'not-an-email', password: strong },
      { username: 'has space', email: `${unique()}@example.com`, password: strong },
      { username: unique(), password: strong },
    ]) {
      expectProblem(await register(payload), 400, 'validation_failed');
    }
  });
});

describe('me/', () => {
  it('reads and edits the own profile', async () => {
    const user = await createUser(t);
    const patched = await t.app.inject({
      method: 'PATCH',
      url: '/api/identity/me/',
      headers: user.auth,
      payload: { first_name: 'Ada', last_name: 'Lovelace', email: `${user.username}-new@example.com`, current_password: user.password },
    });
    expect(patched.statusCode).toBe(200);
    const expected = { id: user.id, username: user.username, email: `${user.username}-new@example.com`, first_name: 'Ada', last_name: 'Lovelace', is_staff: false };
    expect(patched.json()).toEqual(expected);
    const read = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: user.auth });
    expect(read.json()).toEqual(expected);
  });

  it('refuses an email someone else has with 409, and fields it does not know with 400', async () => {
    const a = await createUser(t);
    const b = await createUser(t);
    const taken = await t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: b.auth, payload: { email: `${a.username.toLowerCase()}@example.com`, current_password: b.password } });
    expectProblem(taken, 409, 'conflict');
    const extra = await t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: b.auth, payload: { is_staff: true } });
    expectProblem(extra, 400, 'validation_failed');
  });
});

describe('customers/ (staff)', () => {
  const url = '/api/identity/customers/';

  it('is closed to customers (403) and to anonymous callers (401)', async () => {
    const customer = await createUser(t);
    expectProblem(await t.app.inject({ method: 'GET', url, headers: customer.auth }), 403, 'forbidden');
    expectProblem(await t.app.inject({ method: 'POST', url, headers: customer.auth, payload: {} }), 403, 'forbidden');
    expectProblem(await t.app.inject({ method: 'GET', url }), 401, 'not_authenticated');
  });

  it('creates, reads, edits and lists customers', async () => {
    const name = unique();
    const created = await t.app.inject({ method: 'POST', url, headers: staff.auth, payload: { username: name, email: `${name}@example.com`, password: strong, first_name: 'Grace' } });
    expect(created.statusCode).toBe(201);
    const customer = created.json();
    expect(customer).toMatchObject({ username: name, first_name: 'Grace', last_name: '', is_active: true });
    expect(JSON.stringify(customer)).not.toMatch(/password|hash/);

    const read = await t.app.inject({ method: 'GET', url: `${url}${customer.id}/`, headers: staff.auth });
    expect(read.json()).toEqual(customer);
    const patched = await t.app.inject({ method: 'PATCH', url: `${url}${customer.id}/`, headers: staff.auth, payload: { last_name: 'Hopper' } });
    expect(patched.json()).toMatchObject({ first_name: 'Grace', last_name: 'Hopper' });

    // The list may come from a replica, a moment behind: wait for it to catch up.
    const search = () => t.app.inject({ method: 'GET', url: `${url}?search=${name}`, headers: staff.auth });
    await expect.poll(async () => (await search()).json().count, { timeout: 10_000 }).toBe(1);
    const found = await search();
    expect(found.json()).toMatchObject({ count: 1, next: null, previous: null, results: [expect.objectContaining({ id: customer.id })] });
    expectProblem(await t.app.inject({ method: 'POST', url, headers: staff.auth, payload: { username: name, email: `x${name}@example.com`, password: strong } }), 409, 'conflict');
  });

  it('pages with count, next and previous, and lists no staff', async () => {
    for (let i = 0; i < 3; i++) await createUser(t);
    const last = await createUser(t);
    const everyone = () => t.app.inject({ method: 'GET', url: `${url}?limit=100`, headers: staff.auth });
    await expect.poll(async () => (await everyone()).json().results.some((c: { id: string }) => c.id === last.id), { timeout: 10_000 }).toBe(true);
    const first = await t.app.inject({ method: 'GET', url: `${url}?limit=2`, headers: staff.auth });
    const page = first.json();
    expect(page.count).toBeGreaterThanOrEqual(3);
    expect(page.results).toHaveLength(2);
    expect(page.previous).toBeNull();
    expect(page.next).toMatch(/^http:\/\/.+\/api\/identity\/customers\/\?limit=2&offset=2$/);
    const second = await t.app.inject({ method: 'GET', url: new URL(page.next).pathname + new URL(page.next).search, headers: staff.auth });
    expect(second.json().previous).toMatch(/offset=0/);
    const all = await t.app.inject({ method: 'GET', url: `${url}?limit=100`, headers: staff.auth });
    expect(all.json().results.map((c: { id: string }) => c.id)).not.toContain(staff.id);
    expectProblem(await t.app.inject({ method: 'GET', url: `${url}?limit=1000`, headers: staff.auth }), 400, 'validation_failed');
  });

  it('answers 404 for an unknown id or a staff account, 400 for a malformed id', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: `${url}${randomUUID()}/`, headers: staff.auth }), 404, 'not_found');
    expectProblem(await t.app.inject({ method: 'GET', url: `${url}${staff.id}/`, headers: staff.auth }), 404, 'not_found');
    expectProblem(await t.app.inject({ method: 'DELETE', url: `${url}${staff.id}/`, headers: staff.auth }), 404, 'not_found');
    expectProblem(await t.app.inject({ method: 'GET', url: `${url}not-a-uuid/`, headers: staff.auth }), 400, 'validation_failed');
  });

  it('DELETE deactivates: every token of the customer stops at once, and it cannot sign in', async () => {
    const customer = await createUser(t);
    const second = await login(t, customer.username, customer.password);
    const res = await t.app.inject({ method: 'DELETE', url: `${url}${customer.id}/`, headers: staff.auth });
    expect(res.statusCode).toBe(204);
    for (const access of [customer.access, second.access]) {
      expectProblem(await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: { authorization: `Bearer ${access}` } }), 401, 'invalid_token');
    }
    for (const refresh of [customer.refresh, second.refresh]) {
      expect((await t.app.inject({ method: 'POST', url: '/api/identity/token/refresh/', payload: { refresh } })).statusCode).toBe(401);
    }
    await expect(login(t, customer.username, customer.password)).rejects.toThrow(/401/);
    const read = await t.app.inject({ method: 'GET', url: `${url}${customer.id}/`, headers: staff.auth });
    expect(read.json().is_active).toBe(false);
    // Deleting again is harmless.
    expect((await t.app.inject({ method: 'DELETE', url: `${url}${customer.id}/`, headers: staff.auth })).statusCode).toBe(204);
  });

  it('PATCH is_active false deactivates too, and true lets the customer sign in again', async () => {
    const customer = await createUser(t);
    const off = await t.app.inject({ method: 'PATCH', url: `${url}${customer.id}/`, headers: staff.auth, payload: { is_active: false } });
    expect(off.json().is_active).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: customer.auth })).statusCode).toBe(401);
    const on = await t.app.inject({ method: 'PATCH', url: `${url}${customer.id}/`, headers: staff.auth, payload: { is_active: true } });
    expect(on.json().is_active).toBe(true);
    // Old tokens stay dead; a new sign-in works (wait past the second the old ones were issued in).
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await login(t, customer.username, customer.password);
    expect((await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: { authorization: `Bearer ${fresh.access}` } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: customer.auth })).statusCode).toBe(401);
  });
});
