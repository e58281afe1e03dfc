import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { queryRows } from '../../platform/db.ts';
import { createUser } from '../../../test/helpers/auth.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

it('purges refresh tokens expired for over a day and keeps live ones working', async () => {
  const old = await createUser(t);
  const live = await createUser(t);
  await t.services.db.primary.execute(
    sql`update identity.refresh_tokens set expires_at = now() - interval '2 days' where user_id = ${old.id}`,
  );
  expect(await t.services.identity.purgeExpiredRefreshTokens()).toBe(1);
  const left = await queryRows<{ user_id: string }>(t.services.db.primary, sql`select user_id from identity.refresh_tokens`);
  expect(left.map((r) => r.user_id)).toEqual([live.id]);
  const refreshed = await t.app.inject({ method: 'POST', url: '/api/identity/token/refresh/', payload: { refresh: live.refresh } });
  expect(refreshed.statusCode).toBe(200);
});
