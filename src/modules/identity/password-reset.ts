/**
 * Password reset by mail.
 *
 * Asking (`request`) answers the same whether or not the address is an account's: the same 202,
 * and at least `minResponseMs` after it began, so neither the body nor the time tells who has an
 * account. Both paths make a token and hash it; only an account's writes the token and its mail,
 * in one transaction (the mail goes through the outbox: a down SMTP server delays it, never loses
 * it, and never slows the request). The throttle counts per address asked for and per client
 * address *before* looking the address up, so its 429 does not tell either.
 *
 * Tokens are 32 random bytes, stored as their SHA-256, live 30 minutes, work once; a newer
 * request replaces the older. Confirming sets the password and ends every session.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Platform } from '../../platform/platform.ts';
import { AppError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Db } from '../../platform/db.ts';
import { passwordResetMail, RESET_TOKEN_MINUTES, resetLink, resetLinkBase } from './mails.ts';
import { hashPassword } from './passwords.ts';
import * as repo from './repo.ts';
import type { SelfService } from './self-service.ts';
import { checkNewPassword } from './self-service.ts';
import { hashRefreshToken as sha256, newRefreshToken as newRandomToken } from './tokens.ts';

const TOKEN_TTL_MS = RESET_TOKEN_MINUTES * 60_000;

const invalidResetToken = () => new AppError('invalid_token', 'The reset link is invalid, expired or already used', { status: 400 });

export function createPasswordReset(deps: { platform: Platform; selfService: SelfService }) {
  const { platform, selfService } = deps;
  const { db, kv, config, logger } = platform;
  const settings = config.passwordReset;
  const linkBase = resetLinkBase(config);

  /** Counts the request per address asked for (hashed: no address in Redis keys) and per client. */
  async function throttle(email: string, clientAddress: string): Promise<void> {
    const subjects = [
      { key: `identity:reset:email:${sha256(email.toLowerCase())}`, max: settings.maxPerEmail },
      { key: `identity:reset:ip:${clientAddress}`, max: settings.maxPerAddress },
    ];
    let counts;
    try {
      counts = await Promise.all(subjects.map((s) => kv.hit(s.key, settings.windowSeconds)));
    } catch (error) {
      // Like the login throttle: an unavailable store must not take resets down with it.
      logger.warn({ err: error }, 'password-reset throttle unavailable');
      return;
    }
    const over = counts.filter((c, i) => c.count > subjects[i]!.max);
    if (over.length === 0) return;
    const seconds = Math.max(1, ...over.map((c) => c.resetSeconds));
    throw new AppError('rate_limited', 'Too many password-reset requests; try again later', { headers: { 'Retry-After': String(seconds) } });
  }

  async function issue(tx: Db, user: { id: string; username: string; email: string }, token: string, tokenHash: string) {
    const expiresAt = new Date(Date.now() + TOKEN_TTL_MS);
    await repo.replaceResetToken(tx, { id: newId(), userId: user.id, tokenHash, expiresAt });
    const mail = passwordResetMail(user.username, resetLink(linkBase, token));
    await repo.enqueueMail(tx, { userId: user.id, address: user.email }, mail, expiresAt);
  }

  return {
    async requestPasswordReset(email: string, clientAddress: string): Promise<void> {
      const started = performance.now();
      try {
        await throttle(email, clientAddress);
        const user = await repo.findUserByEmail(db.primary, email);
        const token = newRandomToken();
        const tokenHash = sha256(token);
        if (user && user.isActive) {
          await db.primary.transaction((tx: Db) => issue(tx, user, token, tokenHash));
          logger.info({ user_id: user.id }, 'password reset requested');
        }
      } finally {
        const left = settings.minResponseMs - (performance.now() - started);
        if (left > 0) await sleep(left);
      }
    },

    async confirmPasswordReset(token: string, newPassword: string): Promise<void> {
      const tokenHash = sha256(token);
      const reset = await repo.findLiveReset(db.primary, tokenHash);
      const user = reset && (await repo.findUserById(db.primary, reset.userId));
      if (!user || !user.isActive) throw invalidResetToken();
      checkNewPassword(newPassword, user);
      const passwordHash = await hashPassword(newPassword);
      // The token is spent in the transaction that sets the password: of two confirms racing with
      // one token, one finds it and the other gets invalid_token.
      await selfService.endSessions(user.id, { passwordHash }, undefined, async (tx) => {
        if ((await repo.consumeReset(tx, tokenHash)) !== user.id) throw invalidResetToken();
      });
      logger.info({ user_id: user.id }, 'password reset; every session revoked');
    },
  };
}

export type PasswordReset = ReturnType<typeof createPasswordReset>;
