/**
 * Delivery of the identity module's mail outbox (a job of the worker, src/jobs.ts).
 *
 * Each run drops mails whose purpose has expired, takes the due ones under a lease and sends them
 * one by one, each account's in the order they were queued (repo.ts, claimDueMail: a later one
 * waits while an earlier one is retried). A sent mail's row is deleted; a failed one is tried again
 * after a back-off that doubles from 5 s up to 5 min, until its expiry (a reset link's 30 minutes). At least once: a
 * worker that dies between the server's acceptance and the delete sends that mail again after the
 * lease. Log lines carry the mail's id, never its address or its body (the link holds a token).
 */
import type { Platform } from '../../platform/platform.ts';
import type { Mailer } from '../../platform/mail.ts';
import * as repo from './repo.ts';

const BATCH = 20;
/** Longer than the transport's worst case (connect 10 s + greeting 10 s + socket 30 s). */
const LEASE_SECONDS = 120;
const FIRST_RETRY_SECONDS = 5;
const MAX_RETRY_SECONDS = 300;

export const retryDelaySeconds = (attempts: number) => Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** Math.max(0, attempts - 1));

/**
 * What of a transport error is worth keeping: its codes and message, never the message sent, and
 * without the addresses a server's refusal may quote ("550 <ada@example.com>: no such user").
 */
function describe(error: unknown): string {
  const e = error as { code?: string; responseCode?: number; command?: string; message?: string };
  return [e.code, e.responseCode, e.command, e.message]
    .filter((v) => v !== undefined)
    .join(' ')
    .replace(/[^\s<>"']+@[^\s<>"']+/g, '[address]');
}

export function createMailDelivery(deps: { platform: Platform; mailer: Mailer }) {
  const { platform, mailer } = deps;
  const { db, logger } = platform;

  return {
    /** One delivery run; returns how many mails were sent. */
    async deliverMail(): Promise<number> {
      const expired = await repo.deleteExpiredMail(db.primary);
      if (expired > 0) logger.warn({ count: expired }, 'mails dropped undelivered: they expired before a send succeeded');
      const due = await repo.claimDueMail(db.primary, BATCH, LEASE_SECONDS);
      let sent = 0;
      // An account whose mail failed in this run: its later mails wait with it, not overtaking it.
      const held = new Map<string, number>();
      for (const mail of due) {
        const waitFor = mail.userId ? held.get(mail.userId) : undefined;
        if (waitFor !== undefined) {
          await repo.deferMail(db.primary, mail.id, waitFor, 'waiting for an earlier mail to the same account');
          continue;
        }
        try {
          const { messageId } = await mailer.send({ to: mail.toAddress, subject: mail.subject, text: mail.textBody, html: mail.htmlBody });
          await repo.deleteMail(db.primary, mail.id);
          sent++;
          logger.info({ mail_id: mail.id, message_id: messageId, attempts: mail.attempts, transport: mailer.kind }, 'mail sent');
        } catch (error) {
          const delay = retryDelaySeconds(mail.attempts);
          const reason = describe(error);
          await repo.deferMail(db.primary, mail.id, delay, reason);
          if (mail.userId) held.set(mail.userId, delay);
          logger.warn({ mail_id: mail.id, attempts: mail.attempts, retry_in_seconds: delay, reason }, 'mail delivery failed; will retry');
        }
      }
      return sent;
    },
  };
}
