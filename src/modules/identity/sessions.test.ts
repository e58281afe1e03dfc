import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

describe('sign-in', () => {
  it('registers, signs in and reads its own profile', async () => {
    const user = await createUser(t);
    const me = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: user.auth });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: user.id, username: user.username, is_staff: false });
  });

  it('makes staff through the service', async () => {
    const staff = await createUser(t, { staff: true });
    const me = await t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: staff.auth });
    expect(me.json()).toMatchObject({ is_staff: true });
  });
});
