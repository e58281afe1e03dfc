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

export async function queueCustomerMail(tx: Db, userId: string, compose: (recipient: { username: string; firstName: string }) => ComposedMail): Promise<boolean> {
  const user = await repo.findUserById(tx, userId);
  if (!user || !user.isActive || user.closedAt) return false;
  const mail = compose({ username: user.username, firstName: user.firstName });
  await repo.enqueueMail(tx, { userId: user.id, address: user.email }, mail, new Date(Date.now() + CUSTOMER_MAIL_TTL_MS));
  return true;
}
