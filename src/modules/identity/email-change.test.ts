/**
 * Finding 2 of the security review (issue 23): a stolen access token must not become a permanent
 * takeover. Changing the email needs the current password, the old address is told, and every
 * reset link already mailed dies with the change — for customers and staff alike.
 */
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { startTestSmtp, type TestSmtp } from '../../../test/helpers/smtp.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';

let t: TestApp;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await buildTestApp({ env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://shop.example.com', PASSWORD_RESET_MIN_RESPONSE_MS: '0' } });
}, 60_000);
afterAll(async () => {
  await t.close();
  await smtp.stop();
});

let address = 0;
const nextAddress = () => `10.91.${(++address >> 8) & 255}.${address & 255}`;
const emailOf = (user: TestUser) => `${user.username.toLowerCase()}@example.com`;
const patchMe = (user: TestUser, payload: object) =>
  t.app.inject({ method: 'PATCH', url: '/api/identity/me/', headers: user.auth, payload, remoteAddress: nextAddress() });
const me = (user: TestUser) => t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: user.auth });
const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url: `/api/identity/${url}`, payload, remoteAddress: nextAddress() });

function resetTokenOf(mail: ParsedMail): string {
  const match = /reset-password#token=([A-Za-z0-9_-]{43})\b/.exec(mail.text ?? '');
  if (!match) throw new Error(`no reset link in: ${mail.text}`);
  return match[1]!;
}

/** A reset link mailed to the user's current address, as the owner (or a thief) would ask for. */
async function mailedResetToken(user: TestUser): Promise<string> {
  const before = smtp.mailsTo(emailOf(user)).length;
  expect((await post('password-reset/', { email: emailOf(user) })).statusCode).toBe(202);
  await t.services.identity.deliverMail();
  return resetTokenOf(await smtp.waitForMail(emailOf(user), { after: before }));
}

describe('PATCH me/ with a new email (security review, finding 2)', () => {
  for (const kind of ['customer', 'staff'] as const) {
    it(`needs the current password of a ${kind}, tells the old address, and ends outstanding reset links`, async () => {
      const user = await createUser(t, { staff: kind === 'staff' });
      const stolenTo = `thief-${user.username.toLowerCase()}@example.net`;
      const pendingReset = await mailedResetToken(user);

      // A stolen access token alone changes nothing: no password, or a wrong one, is a 401.
      for (const payload of [{ email: stolenTo }, { email: stolenTo, current_password: 'not the password' }]) {
        const refused = await patchMe(user, payload);
        expect(refused.statusCode).toBe(401);
        expect(refused.json().code).toBe('not_authenticated');
      }
      expect((await me(user)).json().email).toBe(emailOf(user));

      const before = smtp.mailsTo(emailOf(user)).length;
      const changed = await patchMe(user, { email: `new-${emailOf(user)}`, current_password: user.password });
      expect(changed.statusCode).toBe(200);
      expect(changed.json().email).toBe(`new-${emailOf(user)}`);

      // The old address hears of it, naming the new one.
      await t.services.identity.deliverMail();
      const notice = await smtp.waitForMail(emailOf(user), { after: before });
      expect(notice.subject).toBe('The email address of your account was changed');
      expect(notice.text).toContain(`new-${emailOf(user)}`);

      // The link mailed before the change no longer works.
      const confirm = await post('password-reset/confirm/', { token: pendingReset, new_password: 'a passphrase of the thief' });
      expect(confirm.statusCode).toBe(400);
      expect(confirm.json().code).toBe('invalid_token');
    });
  }

  it('keeps other edits as they were: no password for names or for the same email', async () => {
    const user = await createUser(t);
    const names = await patchMe(user, { first_name: 'Grace', last_name: 'Hopper' });
    expect(names.statusCode).toBe(200);
    expect((await patchMe(user, { email: emailOf(user), first_name: 'Grace' })).statusCode).toBe(200);
    expect((await me(user)).json()).toMatchObject({ email: emailOf(user), first_name: 'Grace', last_name: 'Hopper' });
  });
});
