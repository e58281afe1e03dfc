import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, type TestUser } from '../../../test/helpers/auth.ts';
import { createProduct } from '../../../test/helpers/catalog-factory.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { queryRows, sql } from '../../platform/db.ts';

let t: TestApp;
let staff: TestUser;
beforeAll(async () => {
  t = await buildTestApp({ env: { LOGIN_MAX_FAILURES: '3' } });
  staff = await createUser(t, { staff: true });
});
afterAll(() => t.close());

const NEW_PASSWORD = 'a brand new passphrase';
let address = 0;
const nextAddress = () => `10.77.${(++address >> 8) & 255}.${address & 255}`;

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, auth: string | undefined, payload?: object, remoteAddress = nextAddress()) =>
  t.app.inject({ method, url: `/api/identity/${url}`, ...(payload ? { payload } : {}), headers: auth ? { authorization: `Bearer ${auth}` } : {}, remoteAddress });
const me = (access: string) => call('GET', 'me/', access);
const refresh = (token: string) => call('POST', 'token/refresh/', undefined, { refresh: token });
const signIn = (username: string, password: string) => call('POST', 'token/', undefined, { username, password });

/** A user signed in on two devices. */
async function twoSessions() {
  const user = await createUser(t);
  const other = await login(t, user.username, user.password);
  return { user, other };
}

describe('POST me/password/', () => {
  it('changes the password and revokes the other sessions only', async () => {
    const { user, other } = await twoSessions();
    const res = await call('POST', 'me/password/', user.access, { current_password: user.password, new_password: NEW_PASSWORD });
    expect(res.statusCode).toBe(204);
    // The calling session: its access token and its refresh family keep working.
    expect((await me(user.access)).statusCode).toBe(200);
    const rotated = await refresh(user.refresh);
    expect(rotated.statusCode).toBe(200);
    expect((await me(rotated.json().access)).statusCode).toBe(200);
    // The other device: both of its tokens are dead.
    expect((await me(other.access)).statusCode).toBe(401);
    expect((await refresh(other.refresh)).statusCode).toBe(401);
    // Only the new password signs in.
    expect((await signIn(user.username, user.password)).statusCode).toBe(401);
    expect((await signIn(user.username, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('refuses a wrong current password with 401, changes nothing, and counts it toward the login throttle', async () => {
    const { user, other } = await twoSessions();
    const from = '10.78.0.1';
    for (let i = 0; i < 3; i++) {
      const wrong = await call('POST', 'me/password/', user.access, { current_password: 'not the password', new_password: NEW_PASSWORD }, from);
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().code).toBe('not_authenticated');
    }
    expect((await me(other.access)).statusCode).toBe(200);
    // Three failures (LOGIN_MAX_FAILURES) block the account's sign-in and this address.
    const blocked = await call('POST', 'me/password/', user.access, { current_password: user.password, new_password: NEW_PASSWORD }, from);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    expect((await signIn(user.username, user.password)).statusCode).toBe(429);
  });

  it('applies the registration rules to the new password', async () => {
    const user = await createUser(t);
    for (const weak of ['short', 'password123', user.username]) {
      const res = await call('POST', 'me/password/', user.access, { current_password: user.password, new_password: weak });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'validation_failed', errors: [expect.objectContaining({ field: 'new_password' })] });
    }
    expect((await signIn(user.username, user.password)).statusCode).toBe(200);
  });

  it('needs a signed-in user and a well-formed body', async () => {
    expect((await call('POST', 'me/password/', undefined, { current_password: 'x', new_password: NEW_PASSWORD })).statusCode).toBe(401);
    const user = await createUser(t);
    expect((await call('POST', 'me/password/', user.access, { new_password: NEW_PASSWORD })).json().code).toBe('validation_failed');
  });
});

describe('POST logout/all/', () => {
  it('ends every session of the user, and a new sign-in works at once', async () => {
    const { user, other } = await twoSessions();
    const bystander = await createUser(t);
    expect((await call('POST', 'logout/all/', user.access)).statusCode).toBe(204);
    for (const access of [user.access, other.access]) expect((await me(access)).statusCode).toBe(401);
    for (const token of [user.refresh, other.refresh]) expect((await refresh(token)).statusCode).toBe(401);
    expect((await me(bystander.access)).statusCode).toBe(200);
    // Within the same second as the sign-out: a new session is not caught by it.
    const again = await login(t, user.username, user.password);
    expect((await me(again.access)).statusCode).toBe(200);
  });

  it('needs a signed-in user', async () => {
    expect((await call('POST', 'logout/all/', undefined)).statusCode).toBe(401);
  });
});

/** Every text value in the identity schema that contains `needle`, as "table.column". */
async function identityColumnsContaining(needle: string): Promise<string[]> {
  const columns = await queryRows<{ table_name: string; column_name: string }>(
    t.services.db.primary,
    sql`select table_name, column_name from information_schema.columns
        where table_schema = 'identity' and data_type in ('text', 'character varying', 'jsonb')`,
  );
  const found: string[] = [];
  for (const c of columns) {
    const [row] = await queryRows<{ n: number }>(
      t.services.db.primary,
      sql`select count(*)::int as n from ${sql.identifier('identity')}.${sql.identifier(c.table_name)}
          where position(lower(${needle}) in lower(${sql.identifier(c.column_name)}::text)) > 0`,
    );
    if (row!.n > 0) found.push(`${c.table_name}.${c.column_name}`);
  }
  return found;
}

describe('DELETE me/', () => {
  it('closes the account at once, erases its personal data and keeps its orders', async () => {
    const { user, other } = await twoSessions();
    const email = `${user.username.toLowerCase()}@example.com`;
    await t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: user.auth, payload: { first_name: 'Adaline', last_name: 'Lovelacewood' } });
    const product = await createProduct(t, { stock: 5 });
    const order = await t.app.inject({ method: 'POST', url: '/api/orders/orders/', headers: user.auth, payload: { order_items: [{ product: product.id, quantity: 1 }] } });
    expect(order.statusCode).toBe(201);
    // A reset link outstanding: its token and its queued mail must go too.
    expect((await call('POST', 'password-reset/', undefined, { email })).statusCode).toBe(202);

    expect((await call('DELETE', 'me/', user.access, { password: user.password })).statusCode).toBe(204);

    for (const access of [user.access, other.access]) expect((await me(access)).statusCode).toBe(401);
    for (const token of [user.refresh, other.refresh]) expect((await refresh(token)).statusCode).toBe(401);
    expect((await signIn(user.username, user.password)).statusCode).toBe(401);
    for (const value of [user.username, email, 'Adaline', 'Lovelacewood']) expect(await identityColumnsContaining(value)).toEqual([]);
    const [row] = await queryRows<{ password_hash: string; is_active: boolean; closed_at: Date | null }>(
      t.services.db.primary,
      sql`select password_hash, is_active, closed_at from identity.users where id = ${user.id}`,
    );
    expect(row).toMatchObject({ password_hash: '', is_active: false, closed_at: expect.anything() });
    // Orders stay, naming the customer by id only.
    const orders = await queryRows<{ customer_id: string; lines: number }>(
      t.services.db.primary,
      sql`select customer_id, (select count(*)::int from orders.order_lines where order_id = o.id) as lines from orders.orders o where id = ${order.json().id}`,
    );
    expect(orders).toEqual([{ customer_id: user.id, lines: 1 }]);

    // Staff see a closed customer, and cannot reopen it.
    const customer = await t.app.inject({ method: 'GET', url: `/api/identity/customers/${user.id}/`, headers: staff.auth });
    expect(customer.json()).toMatchObject({ is_active: false, closed_at: expect.any(String), username: `deleted:${user.id}`, email: `deleted:${user.id}` });
    const reopen = await t.app.inject({ method: 'PATCH', url: `/api/identity/customers/${user.id}/`, headers: staff.auth, payload: { is_active: true } });
    expect(reopen.statusCode).toBe(409);

    // The tombstones cannot be registered (so none is taken before an account closes).
    const squat = await call('POST', 'register/', undefined, { username: `deleted:${user.id}`, email: `deleted:${user.id}`, password: 'another fine passphrase' });
    expect(squat.json().errors.map((e: { field: string }) => e.field).sort()).toEqual(['email', 'username']);
    // The username and the email are free again.
    const again = await call('POST', 'register/', undefined, { username: user.username, email, password: 'another fine passphrase' });
    expect(again.statusCode).toBe(201);
    expect(again.json().id).not.toBe(user.id);
  });

  it('refuses a wrong password with 401 and closes nothing', async () => {
    const user = await createUser(t);
    const res = await call('DELETE', 'me/', user.access, { password: 'not the password' });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('not_authenticated');
    expect((await me(user.access)).statusCode).toBe(200);
    expect((await call('DELETE', 'me/', user.access, {})).json().code).toBe('validation_failed');
  });
});

describe('OpenAPI', () => {
  it('documents the self-service operations with their answers', async () => {
    const { paths } = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const expected: Array<[string, string, string]> = [
      ['/api/identity/logout/all/', 'post', '204'],
      ['/api/identity/me/password/', 'post', '204'],
      ['/api/identity/me/', 'delete', '204'],
      ['/api/identity/password-reset/', 'post', '202'],
      ['/api/identity/password-reset/confirm/', 'post', '204'],
    ];
    for (const [path, method, status] of expected) {
      const operation = paths[path]?.[method];
      expect(operation?.responses?.[status], `${method} ${path} ${status}`).toBeDefined();
      expect(operation.responses['4XX'], `${method} ${path} problems`).toBeDefined();
    }
    expect(paths['/api/identity/me/'].delete.requestBody.content['application/json'].schema.required).toEqual(['password']);
    expect(paths['/api/identity/customers/{id}/'].get.responses['200'].content['application/json'].schema.properties).toHaveProperty('closed_at');
  });
});
