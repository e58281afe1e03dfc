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

type Compose = (recipient: { username: string; firstName: string }) => ComposedMail;

/**
 * Queues customer mails in the caller's transaction: one read of the recipients and one insert for
 * all of them (a relay batch's order events, a flash-sale flush of "received" mails), where a read
 * and an insert per mail cost two round trips each. Returns how many were queued.
 */
export async function queueCustomerMails(tx: Db, mails: Array<{ userId: string; compose: Compose }>): Promise<number> {
  if (mails.length === 0) return 0;
  const recipients = await repo.mailRecipients(tx, [...new Set(mails.map((m) => m.userId))]);
  const queued = mails.flatMap(({ userId, compose }) => {
    const user = recipients.get(userId);
    return user ? [{ to: { userId, address: user.email }, mail: compose({ username: user.username, firstName: user.firstName }) }] : [];
  });
  await repo.enqueueMails(tx, queued, new Date(Date.now() + CUSTOMER_MAIL_TTL_MS));
  return queued.length;
}
