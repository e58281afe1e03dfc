/** SQL only. Each function takes its executor (primary, replica or transaction) first. */
import { and, count, desc, eq, ilike, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import { refreshTokens, users, type RefreshTokenRow, type UserRow } from './tables.ts';

export type NewUser = Pick<UserRow, 'id' | 'username' | 'email' | 'passwordHash'> &
  Partial<Pick<UserRow, 'firstName' | 'lastName' | 'isStaff'>>;

export type UserChanges = Partial<Pick<UserRow, 'email' | 'firstName' | 'lastName' | 'isActive' | 'isStaff' | 'passwordHash' | 'tokensNotBefore'>>;

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

/** Revokes every live refresh token of a user; returns the families touched. */
export async function revokeUserTokens(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
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
