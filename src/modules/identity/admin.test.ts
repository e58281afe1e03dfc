import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { runStartupTasks } from '../../startup.ts';
import { findUserByUsername, updateUser } from './repo.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'bootstrap-admin-secret' } });
});
afterAll(() => t.close());

describe('ADMIN_USERNAME / ADMIN_PASSWORD bootstrap', () => {
  it('creates a staff account that can manage customers', async () => {
    const { access } = await login(t, 'root', 'bootstrap-admin-secret');
    const res = await t.app.inject({ method: 'GET', url: '/api/identity/customers/', headers: { authorization: `Bearer ${access}` } });
    expect(res.statusCode).toBe(200);
  });

  it('is idempotent, and repairs the account when it drifted', async () => {
    const before = (await findUserByUsername(t.services.db.primary, 'root'))!;
    await runStartupTasks(t.services);
    await t.services.identity.ensureAdmin();
    const after = (await findUserByUsername(t.services.db.primary, 'root'))!;
    expect(after.id).toBe(before.id);
    expect(after.passwordHash).toBe(before.passwordHash);

    await updateUser(t.services.db.primary, before.id, { isStaff: false, isActive: false, passwordHash: 'not-a-hash' });
    await t.services.identity.ensureAdmin();
    const repaired = (await findUserByUsername(t.services.db.primary, 'root'))!;
    expect(repaired).toMatchObject({ id: before.id, isStaff: true, isActive: true });
    await login(t, 'root', 'bootstrap-admin-secret');
  });
});
