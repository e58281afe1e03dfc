/**
 * Mails other modules send to a customer (order mails): identity owns the addresses, so callers
 * hand it the account id and a composer, never an address. Queued in the caller's transaction (the
 * mail outbox delivers it), so a mail goes out exactly when the change it reports commits. A closed
 * or deactivated account gets none.
 */
import type { Db } from '../../platform/db.ts';
import * as repo from './repo.ts';

export interface ComposedMail {
  subject: string;
  text: string;
  html: string;
}

/** An order mail is worth sending for a week; after that it is news nobody needs. */
const CUSTOMER_MAIL_TTL_MS = 7 * 24 * 3600 * 1000;

export interface CustomerMail {
  userId: string;
  compose: (recipient: { username: string; firstName: string }) => ComposedMail;
}

/**
 * Queues each mail to its account's address: one read of the accounts and one insert, whatever
 * the number of mails (an outbox batch or a flash sale's accepted orders come hundreds at a time).
 * Returns how many were queued.
 */
export async function queueCustomerMails(tx: Db, mails: CustomerMail[]): Promise<number> {
  if (mails.length === 0) return 0;
  const accounts = await repo.findMailableUsers(tx, [...new Set(mails.map((m) => m.userId))]);
  const expiresAt = new Date(Date.now() + CUSTOMER_MAIL_TTL_MS);
  const queued = mails.flatMap(({ userId, compose }) => {
    const user = accounts.get(userId);
    return user ? [{ to: { userId, address: user.email }, mail: compose(user), expiresAt }] : [];
  });
  await repo.enqueueMails(tx, queued);
  return queued.length;
}
