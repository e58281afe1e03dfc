import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/test-app.ts';
import { newId } from '../../platform/ids.ts';
import { createMemoryStore, type KeyValueStore } from '../../platform/kv.ts';
import { insertRefreshToken, insertUser, revokeFamily, updateUser } from './repo.ts';
import { createRevocationList } from './revocation.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase({ replicas: false });
});
afterAll(() => database.drop());

const silent = pino({ level: 'silent' });
const down = (): KeyValueStore => {
  const fail = async () => {
    throw new Error('connection is closed');
  };
  return { ...createMemoryStore(), kind: 'redis', get: fail, mget: fail, set: fail, del: fail, incr: fail, hit: fail };
};

async function userWithSession() {
  const db = database.db.primary;
  const userId = newId();
  const sessionId = newId();
  await insertUser(db, { id: userId, username: `u-${userId}`, email: `${userId}@example.com`, passwordHash: 'x' });
  await insertRefreshToken(db, { id: newId(), familyId: sessionId, userId, tokenHash: userId, expiresAt: new Date(Date.now() + 60_000) });
  const claims = { userId, sessionId, username: 'u', role: 'customer' as const, issuedAt: Math.floor(Date.now() / 1000) - 10 };
  return { userId, sessionId, claims };
}

describe('revocation list', () => {
  it('reads the markers from the store', async () => {
    const list = createRevocationList(createMemoryStore(), database.db, 300, silent);
    const { sessionId, claims } = await userWithSession();
    expect(await list.isRevoked(claims)).toBe(false);
    await list.revokeSessions([sessionId]);
    expect(await list.isRevoked(claims)).toBe(true);
    const other = await userWithSession();
    await list.revokeUser(other.userId, new Date());
    expect(await list.isRevoked(other.claims)).toBe(true);
    // A token of the old session stays void even when issued after the marker (a refresh racing
    // the sign-out); a session begun after it is fine, also within the same second.
    expect(await list.isRevoked({ ...other.claims, issuedAt: Math.floor(Date.now() / 1000) + 1 })).toBe(true);
    expect(await list.isRevoked({ ...other.claims, sessionId: newId(), issuedAt: Math.floor(Date.now() / 1000) })).toBe(false);
  });

  it('keeps the exempt session of a per-user marker working, in the store and in the database', async () => {
    const stored = createRevocationList(createMemoryStore(), database.db, 300, silent);
    const fallback = createRevocationList(down(), database.db, 300, silent);
    const { userId, sessionId, claims } = await userWithSession();
    const otherSession = { ...claims, sessionId: newId() };
    await new Promise((r) => setTimeout(r, 2));
    const at = new Date();
    await stored.revokeUser(userId, at, sessionId);
    await updateUser(database.db.primary, userId, { tokensNotBefore: at, tokensNotBeforeSession: sessionId });
    for (const list of [stored, fallback]) {
      expect(await list.isRevoked(claims)).toBe(false);
      expect(await list.isRevoked(otherSession)).toBe(true);
    }
  });

  it('falls back to the database when the store is down, neither failing open nor closed', async () => {
    const list = createRevocationList(down(), database.db, 300, silent);
    const db = database.db.primary;
    const live = await userWithSession();
    expect(await list.isRevoked(live.claims)).toBe(false);

    const deactivated = await userWithSession();
    await updateUser(db, deactivated.userId, { isActive: false, tokensNotBefore: new Date() });
    expect(await list.isRevoked(deactivated.claims)).toBe(true);

    const loggedOut = await userWithSession();
    await revokeFamily(db, loggedOut.sessionId);
    expect(await list.isRevoked(loggedOut.claims)).toBe(true);

    const signedOutEverywhere = await userWithSession();
    await updateUser(db, signedOutEverywhere.userId, { tokensNotBefore: new Date() });
    expect(await list.isRevoked(signedOutEverywhere.claims)).toBe(true);
  });

  it('refuses to report a deactivation done when the marker cannot be written', async () => {
    const list = createRevocationList(down(), database.db, 300, silent);
    await expect(list.revokeUser(newId(), new Date())).rejects.toMatchObject({ code: 'unavailable' });
  });
});
