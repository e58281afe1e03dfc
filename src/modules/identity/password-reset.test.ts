import { Writable } from 'node:stream';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../../test/helpers/auth.ts';
import { startTestSmtp, type TestSmtp } from '../../../test/helpers/smtp.ts';
import { buildTestApp, type TestApp } from '../../../test/helpers/test-app.ts';
import { onRealPostgres } from '../../../test/helpers/test-env.ts';
import { startJobs } from '../../jobs.ts';
import { resetLink } from './mails.ts';
import { queryRows, sql } from '../../platform/db.ts';

let t: TestApp;
let smtp: TestSmtp;
const logLines: string[] = [];
const MIN_MS = 250;

beforeAll(async () => {
  smtp = await startTestSmtp();
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  t = await buildTestApp({
    logStream,
    env: {
      SMTP_URL: smtp.url,
      MAIL_FROM: 'Opply <no-reply@shop.example.com>',
      PUBLIC_URL: 'https://shop.example.com',
      PASSWORD_RESET_MAX_PER_ADDRESS: '5',
      PASSWORD_RESET_MIN_RESPONSE_MS: String(MIN_MS),
    },
  });
}, 60_000);
afterAll(async () => {
  await t.close();
  await smtp.stop();
});

let address = 0;
const nextAddress = () => `10.88.${(++address >> 8) & 255}.${address & 255}`;
const post = (url: string, payload: object, remoteAddress = nextAddress()) =>
  t.app.inject({ method: 'POST', url: `/api/identity/${url}`, payload, remoteAddress });
const emailOf = (user: TestUser) => `${user.username.toLowerCase()}@example.com`;
const requestReset = (email: string, remoteAddress?: string) => post('password-reset/', { email }, remoteAddress);
const confirm = (token: string, newPassword = 'a fresh reset passphrase') => post('password-reset/confirm/', { token, new_password: newPassword });
const me = (access: string) => t.app.inject({ method: 'GET', url: '/api/identity/me/', headers: { authorization: `Bearer ${access}` } });

/** The token of a reset mail, read from the link in its plain-text part. */
function tokenOf(mail: ParsedMail): string {
  const match = /https:\/\/shop\.example\.com\/reset-password#token=([A-Za-z0-9_-]{43})\b/.exec(mail.text ?? '');
  if (!match) throw new Error(`no reset link in: ${mail.text}`);
  return match[1]!;
}

/** Asks for a reset, runs one delivery, and answers the token from the mail that arrived. */
async function resetToken(user: TestUser): Promise<string> {
  const before = smtp.mailsTo(emailOf(user)).length;
  expect((await requestReset(emailOf(user))).statusCode).toBe(202);
  expect(await t.services.identity.deliverMail()).toBe(1);
  return tokenOf(await smtp.waitForMail(emailOf(user), { after: before }));
}

describe('password reset by mail', () => {
  it('works end to end from the link in the mail, once, and ends every session', async () => {
    const user = await createUser(t);
    const res = await requestReset(emailOf(user));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ detail: expect.any(String) });
    expect(await t.services.identity.deliverMail()).toBe(1);
    const mail = await smtp.waitForMail(emailOf(user));
    expect(mail.subject).toBe('Reset your password');
    expect(mail.from?.text).toContain('no-reply@shop.example.com');
    expect(mail.html).toContain('reset-password#token=');
    const token = tokenOf(mail);
    // Only the SHA-256 of the token is stored; the delivered mail is gone from the outbox.
    const stored = await queryRows<{ token_hash: string }>(t.services.db.primary, sql`select token_hash from identity.password_resets where user_id = ${user.id}`);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toContain(token);
    expect(await queryRows(t.services.db.primary, sql`select 1 from identity.mail_outbox where user_id = ${user.id}`)).toEqual([]);

    expect((await confirm(token, 'a fresh reset passphrase')).statusCode).toBe(204);
    expect((await me(user.access)).statusCode).toBe(401);
    expect((await post('token/refresh/', { refresh: user.refresh })).statusCode).toBe(401);
    expect((await post('token/', { username: user.username, password: user.password })).statusCode).toBe(401);
    expect((await post('token/', { username: user.username, password: 'a fresh reset passphrase' })).statusCode).toBe(200);

    const again = await confirm(token, 'yet another passphrase');
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('invalid_token');
    // Nothing in the log holds the token or the address (while it does record the mail sent).
    expect(logLines.some((line) => line.includes('"mail sent"'))).toBe(true);
    expect(logLines.filter((line) => line.includes(token) || line.includes(emailOf(user)))).toEqual([]);
  });

  it('voids an older token when a newer one is asked for', async () => {
    const user = await createUser(t);
    const older = await resetToken(user);
    const newer = await resetToken(user);
    expect(newer).not.toBe(older);
    expect((await confirm(older)).json().code).toBe('invalid_token');
    expect((await confirm(newer)).statusCode).toBe(204);
  });

  it('refuses an expired token, an unknown one, and keeps a token through a refused weak password', async () => {
    const user = await createUser(t);
    const token = await resetToken(user);
    const weak = await confirm(token, 'password123');
    expect(weak.statusCode).toBe(400);
    expect(weak.json().code).toBe('validation_failed');
    await t.services.db.primary.execute(sql`update identity.password_resets set expires_at = now() - interval '1 second' where user_id = ${user.id}`);
    const expired = await confirm(token);
    expect(expired.statusCode).toBe(400);
    expect(expired.json().code).toBe('invalid_token');
    expect((await confirm('A'.repeat(43))).json()).toMatchObject({ status: 400, code: 'invalid_token' });
    expect((await post('token/', { username: user.username, password: user.password })).statusCode).toBe(200);
  });

  it('answers a known and an unknown address alike: status, body and time', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => createUser(t)));
    const known: number[] = [];
    const unknown: number[] = [];
    const bodies = new Set<string>();
    for (const [i, user] of users.entries()) {
      for (const [email, times] of [
        [emailOf(user), known],
        [`nobody-${i}-${user.id}@example.com`, unknown],
      ] as const) {
        const started = performance.now();
        const res = await requestReset(email);
        times.push(performance.now() - started);
        expect(res.statusCode).toBe(202);
        bodies.add(res.body);
      }
    }
    expect(bodies.size).toBe(1);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    for (const ms of [...known, ...unknown]) expect(ms).toBeGreaterThanOrEqual(MIN_MS - 1);
    expect(Math.abs(median(known) - median(unknown))).toBeLessThan(50);
    if (process.env.REPORT_TIMINGS) process.stderr.write(`reset timings ms: known ${known.map(Math.round)} unknown ${unknown.map(Math.round)}\n`);
    await t.services.identity.deliverMail();
  });

  it('throttles per address asked for and per client address, the same for an account and for nobody', async () => {
    const user = await createUser(t);
    for (const email of [emailOf(user), `nobody-${user.id}@example.com`]) {
      for (let i = 0; i < 3; i++) expect((await requestReset(email)).statusCode).toBe(202);
      const limited = await requestReset(email);
      expect(limited.statusCode).toBe(429);
      expect(limited.json().code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
    const from = '10.89.0.1';
    for (let i = 0; i < 5; i++) expect((await requestReset(`someone-${i}-${user.id}@example.com`, from)).statusCode).toBe(202);
    expect((await requestReset(`someone-else-${user.id}@example.com`, from)).statusCode).toBe(429);
    await t.services.identity.deliverMail();
  });

  it('answers 202 while the SMTP server is down, and the worker delivers once it is back', async () => {
    const user = await createUser(t);
    await smtp.stop();
    const jobs = startJobs(t.services);
    try {
      const started = performance.now();
      expect((await requestReset(emailOf(user))).statusCode).toBe(202);
      expect(performance.now() - started).toBeLessThan(MIN_MS + 1000);
      // The worker tried, failed, and keeps the mail for later.
      await until(async () => (await outboxRow(user.id))?.last_error != null);
      expect((await outboxRow(user.id))!.attempts).toBe(1);
      await smtp.start();
      const mail = await smtp.waitForMail(emailOf(user), { timeoutMs: 15_000 });
      expect((await confirm(tokenOf(mail))).statusCode).toBe(204);
      expect(await outboxRow(user.id)).toBeUndefined();
    } finally {
      await jobs.stop();
    }
  }, 30_000);

  it.runIf(onRealPostgres)('lets one of two confirms racing with one token win', async () => {
    const user = await createUser(t);
    const token = await resetToken(user);
    const results = await Promise.all([confirm(token, 'first racer passphrase'), confirm(token, 'second racer passphrase')]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([204, 400]);
    const winner = results[0]!.statusCode === 204 ? 'first racer passphrase' : 'second racer passphrase';
    expect((await post('token/', { username: user.username, password: winner })).statusCode).toBe(200);
  });

  it('builds links with the token in the fragment, for web pages and app deep links', () => {
    expect(resetLink('https://shop.example.com/reset-password', 'T')).toBe('https://shop.example.com/reset-password#token=T');
    expect(resetLink('shopapp://reset', 'T')).toBe('shopapp://reset#token=T');
    expect(resetLink('https://shop.example.com/#/reset?x=1', 'T')).toBe('https://shop.example.com/#/reset?x=1&token=T');
  });

  it('validates its bodies', async () => {
    expect((await post('password-reset/', { email: 'not an email' })).json().code).toBe('validation_failed');
    expect((await post('password-reset/confirm/', { token: 'x' })).json().code).toBe('validation_failed');
  });
});

async function outboxRow(userId: string) {
  const [row] = await queryRows<{ attempts: number; last_error: string | null }>(
    t.services.db.primary,
    sql`select attempts, last_error from identity.mail_outbox where user_id = ${userId}`,
  );
  return row;
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
