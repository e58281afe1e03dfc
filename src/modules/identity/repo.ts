/** SQL only. Each function takes its executor (primary, replica or transaction) first. */
import { and, count, desc, eq, ilike, isNull, ne, or, sql, type SQL } from 'drizzle-orm';
import { queryRows, type Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import { knownAddresses, mailOutbox, passwordResets, refreshTokens, users, type MailRow, type RefreshTokenRow, type UserRow } from './tables.ts';

export type NewUser = Pick<UserRow, 'id' | 'username' | 'email' | 'passwordHash'> &
  Partial<Pick<UserRow, 'firstName' | 'lastName' | 'isStaff'>>;

export type UserChanges = Partial<Pick<UserRow, 'email' | 'firstName' | 'lastName' | 'isActive' | 'isStaff' | 'passwordHash' | 'tokensNotBefore' | 'tokensNotBeforeSession'>>;

export async function insertUser(db: Db, user: NewUser): Promise<UserRow> {
  const [row] = await db.insert(users).values(user).returning();
  return row!;
}

/** Inserts unless the username (any case) or email is taken; returns undefined then. */
export async function insertUserIfAbsent(db: Db, user: NewUser): Promise<UserRow | undefined> {
  const [row] = await db.insert(users).values(user).onConflictDoNothing().returning();
  return row;
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

/**
 * The accounts among `ids` that may be mailed (active, not closed), by id. The ids go as one JSON
 * parameter: the statement costs the same to build for one id or five hundred.
 */
export async function findMailableUsers(db: Db, ids: string[]): Promise<Map<string, { username: string; firstName: string; email: string }>> {
  const rows = await queryRows<{ id: string; username: string; first_name: string; email: string }>(
    db,
    sql`select id, username, first_name, email from identity.users
        where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)) and is_active and closed_at is null`,
  );
  return new Map(rows.map((r) => [r.id, { username: r.username, firstName: r.first_name, email: r.email }]));
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(sql`lower(${users.email}) = lower(${email})`).limit(1);
  return row;
}

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${username})`).limit(1);
  return row;
}

/** Which of the two unique values is already taken (after a unique violation). */
export async function takenIdentifiers(db: Db, username: string, email: string, exceptId?: string) {
  const rows = await db
    .select({ username: users.username, email: users.email })
    .from(users)
    .where(
      and(
        or(sql`lower(${users.username}) = lower(${username})`, sql`lower(${users.email}) = lower(${email})`),
        exceptId ? sql`${users.id} <> ${exceptId}` : undefined,
      ),
    );
  return {
    username: rows.some((r) => r.username.toLowerCase() === username.toLowerCase()),
    email: rows.some((r) => r.email.toLowerCase() === email.toLowerCase()),
  };
}

export async function updateUser(db: Db, id: string, changes: UserChanges, onlyCustomers = false): Promise<UserRow | undefined> {
  const [row] = await db
    .update(users)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(users.id, id), onlyCustomers ? eq(users.isStaff, false) : undefined))
    .returning();
  return row;
}

export interface CustomerFilter {
  limit: number;
  offset: number;
  search?: string | undefined;
  isActive?: boolean | undefined;
}

export async function listCustomers(db: Db, filter: CustomerFilter): Promise<{ rows: UserRow[]; count: number }> {
  const conditions: SQL[] = [eq(users.isStaff, false)];
  if (filter.isActive !== undefined) conditions.push(eq(users.isActive, filter.isActive));
  if (filter.search) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(or(ilike(users.username, pattern), ilike(users.email, pattern), ilike(users.firstName, pattern), ilike(users.lastName, pattern))!);
  }
  const where = and(...conditions);
  const [rows, [total]] = await Promise.all([
    db.select().from(users).where(where).orderBy(desc(users.createdAt), desc(users.id)).limit(filter.limit).offset(filter.offset),
    db.select({ n: count() }).from(users).where(where),
  ]);
  return { rows, count: Number(total?.n ?? 0) };
}

/** What the per-request token check needs when the key-value store cannot answer. */
export async function tokenState(db: Db, userId: string, familyId: string) {
  const [row] = await db
    .select({
      isActive: users.isActive,
      tokensNotBefore: users.tokensNotBefore,
      tokensNotBeforeSession: users.tokensNotBeforeSession,
      familyRevoked: sql<boolean>`exists (select 1 from ${refreshTokens} where ${refreshTokens.familyId} = ${familyId} and ${refreshTokens.revokedAt} is not null)`,
    })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  return row;
}

export async function insertRefreshToken(db: Db, token: Pick<RefreshTokenRow, 'id' | 'familyId' | 'userId' | 'tokenHash' | 'expiresAt'>) {
  await db.insert(refreshTokens).values(token);
}

/** Locks the row, so two refreshes with the same token run one after the other. */
export async function findRefreshTokenForUpdate(db: Db, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  const [row] = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)).limit(1).for('update');
  return row;
}

export async function findRefreshToken(db: Db, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  const [row] = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)).limit(1);
  return row;
}

export async function markRefreshTokenUsed(db: Db, id: string) {
  await db.update(refreshTokens).set({ usedAt: sql`now()` }).where(and(eq(refreshTokens.id, id), isNull(refreshTokens.usedAt)));
}

export async function revokeFamily(db: Db, familyId: string) {
  await db.update(refreshTokens).set({ revokedAt: sql`now()` }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}

/** Revokes every live refresh token of a user (but those of `exceptFamily`); returns the families touched. */
export async function revokeUserTokens(db: Db, userId: string, exceptFamily?: string): Promise<string[]> {
  const rows = await db
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt), exceptFamily ? ne(refreshTokens.familyId, exceptFamily) : undefined))
    .returning({ familyId: refreshTokens.familyId });
  return [...new Set(rows.map((r) => r.familyId))];
}

/**
 * Deletes refresh tokens expired for more than a day. Used and revoked rows are kept until then:
 * presenting a used token is how a stolen copy is noticed, and that only matters while it lives.
 */
export async function purgeExpiredRefreshTokens(db: Db): Promise<number> {
  const rows = await db
    .delete(refreshTokens)
    .where(sql`${refreshTokens.expiresAt} < now() - interval '1 day'`)
    .returning({ id: refreshTokens.id });
  return rows.length;
}

/** The one live reset token of a user: a newer one replaces (voids) the older. */
export async function replaceResetToken(db: Db, reset: Pick<typeof passwordResets.$inferInsert, 'id' | 'userId' | 'tokenHash' | 'expiresAt'>) {
  await db.delete(passwordResets).where(eq(passwordResets.userId, reset.userId));
  await db.insert(passwordResets).values(reset);
}

export async function findLiveReset(db: Db, tokenHash: string): Promise<{ userId: string } | undefined> {
  const [row] = await db
    .select({ userId: passwordResets.userId })
    .from(passwordResets)
    .where(and(eq(passwordResets.tokenHash, tokenHash), sql`${passwordResets.expiresAt} > now()`))
    .limit(1);
  return row;
}

/** Single use: the delete that finds the row is the one use; a concurrent second finds nothing. */
export async function consumeReset(db: Db, tokenHash: string): Promise<string | undefined> {
  const [row] = await db
    .delete(passwordResets)
    .where(and(eq(passwordResets.tokenHash, tokenHash), sql`${passwordResets.expiresAt} > now()`))
    .returning({ userId: passwordResets.userId });
  return row?.userId;
}

export async function deleteUserResets(db: Db, userId: string) {
  await db.delete(passwordResets).where(eq(passwordResets.userId, userId));
}

/** A composed mail (subject, plain text, HTML) for one address, kept until it is sent or expires. */
export async function enqueueMail(db: Db, to: { userId: string; address: string }, mail: { subject: string; text: string; html: string }, expiresAt: Date) {
  await enqueueMails(db, [{ to, mail, expiresAt }]);
}

/**
 * Mails in one statement whatever their number, as one JSON parameter: drizzle's insert built and
 * typed seven parameters per mail, ~15 % of the flash-sale API's CPU (docs/benchmarks.md, issue
 * 27's profile). `created_at` is the time of the insert, row by row in the order given, not of the
 * transaction's start: a mail queued after another transaction committed sorts after that one's
 * (claimDueMail sends in this order).
 */
export async function enqueueMails(db: Db, mails: Array<{ to: { userId: string; address: string }; mail: { subject: string; text: string; html: string }; expiresAt: Date }>) {
  if (mails.length === 0) return;
  const rows = mails.map(({ to, mail, expiresAt }) => ({
    id: newId(),
    user_id: to.userId,
    to_address: to.address,
    subject: mail.subject,
    text_body: mail.text,
    html_body: mail.html,
    expires_at: expiresAt.toISOString(),
  }));
  await db.execute(
    sql`insert into identity.mail_outbox (id, user_id, to_address, subject, text_body, html_body, expires_at, created_at)
        select x.id, x.user_id, x.to_address, x.subject, x.text_body, x.html_body, x.expires_at, clock_timestamp()
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as x(id uuid, user_id uuid, to_address text, subject text, text_body text, html_body text, expires_at timestamptz)`,
  );
}

export type DueMail = Pick<MailRow, 'id' | 'userId' | 'toAddress' | 'subject' | 'textBody' | 'htmlBody' | 'attempts'>;

/**
 * Takes due mails for one delivery attempt: counts the attempt and moves next_attempt_at past
 * the lease, so a worker that dies mid-send leaves them to be retried, and two workers never send
 * the same row at once (SKIP LOCKED).
 *
 * An account's mails go out in the order they were queued (created_at, then id: an order's
 * "received" before its "confirmed", issue 25): oldest first, and none while an older one to the
 * same account waits for its retry or is out with another worker — it would overtake it. Returned
 * oldest first, to be sent in that order.
 */
export async function claimDueMail(db: Db, limit: number, leaseSeconds: number): Promise<DueMail[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`with held as (
          -- Accounts with a mail waiting for its retry or out with a worker: their later mails wait.
          select user_id, min(created_at) as since from identity.mail_outbox
          where next_attempt_at > now() and expires_at > now() and user_id is not null group by user_id),
        claimed as (
          update identity.mail_outbox set attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
          where id in (select m.id from identity.mail_outbox m left join held h on h.user_id = m.user_id
                       where m.next_attempt_at <= now() and m.expires_at > now() and (h.since is null or m.created_at < h.since)
                       order by m.created_at, m.id limit ${limit} for update of m skip locked)
          returning id, user_id, to_address, subject, text_body, html_body, attempts, created_at)
        select * from claimed order by created_at, id`,
  );
  return rows.map((r) => ({
    id: String(r['id']),
    userId: r['user_id'] as string | null,
    toAddress: String(r['to_address']),
    subject: String(r['subject']),
    textBody: String(r['text_body']),
    htmlBody: r['html_body'] as string | null,
    attempts: Number(r['attempts']),
  }));
}

export async function deleteMails(db: Db, ids: string[]) {
  if (ids.length > 0) await db.execute(sql`delete from identity.mail_outbox where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`);
}

export async function deferMail(db: Db, id: string, delaySeconds: number, error: string) {
  await db
    .update(mailOutbox)
    .set({ nextAttemptAt: sql`now() + make_interval(secs => ${delaySeconds})`, lastError: error.slice(0, 500) })
    .where(eq(mailOutbox.id, id));
}

/** Mails past their use (a reset link that has expired): dropped, with the address they held. */
export async function deleteExpiredMail(db: Db): Promise<number> {
  const rows = await db.delete(mailOutbox).where(sql`${mailOutbox.expiresAt} <= now()`).returning({ id: mailOutbox.id });
  return rows.length;
}

/**
 * Closes an account: the row stays (orders name its id) with nothing personal left: tombstones for
 * the unique username and email (so both are free again), no names, no password hash. Its
 * sessions, reset tokens and queued mails are deleted.
 */
export async function anonymiseUser(db: Db, userId: string, at: Date): Promise<UserRow | undefined> {
  const [row] = await db
    .update(users)
    .set({
      // ':' is outside what registration, profile edits and staff accept in a username or an
      // email, so no account can hold a tombstone before its owner closes (a unique violation).
      username: sql`'deleted:' || ${users.id}`,
      email: sql`'deleted:' || ${users.id}`,
      firstName: '',
      lastName: '',
      passwordHash: '',
      isActive: false,
      closedAt: at,
      tokensNotBefore: at,
      tokensNotBeforeSession: null,
      updatedAt: sql`now()`,
    })
    .where(and(eq(users.id, userId), isNull(users.closedAt)))
    .returning();
  await db.delete(refreshTokens).where(eq(refreshTokens.userId, userId));
  await db.delete(passwordResets).where(eq(passwordResets.userId, userId));
  await db.delete(mailOutbox).where(eq(mailOutbox.userId, userId));
  await db.delete(knownAddresses).where(eq(knownAddresses.userId, userId));
  return row;
}

/** Whether the address (its HMAC) signed in to the user successfully within `days`. */
export async function isKnownAddress(db: Db, userId: string, addressHash: string, days: number): Promise<boolean> {
  const [row] = await db
    .select({ userId: knownAddresses.userId })
    .from(knownAddresses)
    .where(and(eq(knownAddresses.userId, userId), eq(knownAddresses.addressHash, addressHash), sql`${knownAddresses.lastSeenAt} > now() - make_interval(days => ${days})`))
    .limit(1);
  return row !== undefined;
}

/** Records a successful sign-in from the address; keeps only the user's `keep` newest, none older than `days`. */
export async function rememberAddress(db: Db, userId: string, addressHash: string, keep: number, days: number): Promise<void> {
  await db
    .insert(knownAddresses)
    .values({ userId, addressHash })
    .onConflictDoUpdate({ target: [knownAddresses.userId, knownAddresses.addressHash], set: { lastSeenAt: sql`now()` } });
  await db.execute(sql`
    delete from identity.known_addresses
    where user_id = ${userId}
      and (last_seen_at <= now() - make_interval(days => ${days})
           or address_hash not in (select address_hash from identity.known_addresses where user_id = ${userId} order by last_seen_at desc limit ${keep}))`);
}
