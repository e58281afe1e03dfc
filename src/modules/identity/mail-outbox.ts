/**
 * Delivery of the identity module's mail outbox (a job of the worker, src/jobs.ts).
 *
 * Each run drops mails whose purpose has expired, takes the due ones under a lease, a batch at a
 * time until none is left (at most MAX_BATCHES_PER_RUN), and sends them MAIL_CONCURRENCY at once:
 * accounts side by side, each account's mails one after another in the order they were queued
 * (repo.ts, claimDueMail: a later one waits while an earlier one is retried). A flash sale queues
 * thousands of mails a minute; one at a time, 20 a second, they would fall hours behind. The sent
 * mails' rows are deleted once their batch is through, in one statement (a commit per mail was
 * most of the worker's PostgreSQL work in a flash sale); a failed one is tried again after a
 * back-off that doubles from 5 s up to 5 min, until its expiry (a reset link's 30 minutes). At
 * least once: a worker that dies between the server's acceptance and that delete sends those
 * mails again after the lease. Log lines carry the mail's id, never its address or its body (the
 * link holds a token).
 */
import type { Platform } from '../../platform/platform.ts';
import type { Mailer } from '../../platform/mail.ts';
import * as repo from './repo.ts';

const BATCH = 100;
/** A run ends after this many full batches, so the job's other timers are not starved. */
const MAX_BATCHES_PER_RUN = 10;
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
  const { db, logger, config } = platform;

  /** Sends one account's mails in order, adding each sent one to `sent`; after a failure the rest wait with the failed one. */
  async function sendInOrder(mails: repo.DueMail[], sent: string[]): Promise<void> {
    for (const [i, mail] of mails.entries()) {
      try {
        const { messageId } = await mailer.send({ to: mail.toAddress, subject: mail.subject, text: mail.textBody, html: mail.htmlBody });
        sent.push(mail.id);
        logger.info({ mail_id: mail.id, message_id: messageId, attempts: mail.attempts, transport: mailer.kind }, 'mail sent');
      } catch (error) {
        const delay = retryDelaySeconds(mail.attempts);
        const reason = describe(error);
        await repo.deferMail(db.primary, mail.id, delay, reason);
        logger.warn({ mail_id: mail.id, attempts: mail.attempts, retry_in_seconds: delay, reason }, 'mail delivery failed; will retry');
        // Its account's later mails wait with it, not overtaking it.
        for (const later of mails.slice(i + 1)) await repo.deferMail(db.primary, later.id, delay, 'waiting for an earlier mail to the same account');
        return;
      }
    }
  }

  /** One claimed batch: accounts side by side, MAIL_CONCURRENCY at most. */
  async function sendBatch(due: repo.DueMail[]): Promise<number> {
    const byAccount = new Map<string, repo.DueMail[]>();
    for (const mail of due) {
      const account = mail.userId ?? `mail:${mail.id}`;
      const list = byAccount.get(account);
      if (list) list.push(mail);
      else byAccount.set(account, [mail]);
    }
    const accounts = [...byAccount.values()];
    let next = 0;
    const sent: string[] = [];
    const lane = async () => {
      while (next < accounts.length) await sendInOrder(accounts[next++]!, sent);
    };
    try {
      await Promise.all(Array.from({ length: Math.min(config.mail.concurrency, accounts.length) }, lane));
    } finally {
      await repo.deleteMails(db.primary, sent);
    }
    return sent.length;
  }

  return {
    /** One delivery run; returns how many mails were sent. */
    async deliverMail(): Promise<number> {
      const expired = await repo.deleteExpiredMail(db.primary);
      if (expired > 0) logger.warn({ count: expired }, 'mails dropped undelivered: they expired before a send succeeded');
      let sent = 0;
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
        const due = await repo.claimDueMail(db.primary, BATCH, LEASE_SECONDS);
        sent += await sendBatch(due);
        if (due.length < BATCH) break;
      }
      return sent;
    },
  };
}
