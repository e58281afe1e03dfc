/** Accounts: sign-up, own profile, staff management of customers, the staff bootstrap. */
import type { Platform } from '../../platform/platform.ts';
import { AppError, isUniqueViolation, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Db } from '../../platform/db.ts';
import { hashPassword, passwordProblems, verifyPassword } from './passwords.ts';
import * as repo from './repo.ts';
import { emailChangedMail } from './mails.ts';
import type { RevocationList } from './revocation.ts';
import type { SelfService } from './self-service.ts';
import { createSignUpLimit } from './sign-up-limit.ts';
import type { UserRow } from './tables.ts';

// The notice to the old address is worth sending for a few days of SMTP trouble, not for ever.
const NOTICE_TTL_MS = 3 * 86_400_000;

export interface NewAccount {
  username: string;
  email: string;
  password: string;
  password2?: string | undefined;
  firstName?: string | undefined;
  lastName?: string | undefined;
}

export interface ProfileChanges {
  email?: string | undefined;
  firstName?: string | undefined;
  lastName?: string | undefined;
}

export interface CustomerChanges extends ProfileChanges {
  isActive?: boolean | undefined;
}

function checkNewPassword(account: NewAccount) {
  const errors = passwordProblems(account.password, account);
  if (account.password2 !== undefined && account.password2 !== account.password) {
    errors.push({ field: 'password2', message: 'does not match password' });
  }
  if (errors.length > 0) throw new AppError('validation_failed', 'The password is not acceptable', { errors });
}

export function createAccounts(deps: { platform: Platform; revocation: RevocationList; selfService: SelfService }) {
  const { platform, revocation, selfService } = deps;
  const { db, kv, logger, config } = platform;
  const countSignUpAttempt = createSignUpLimit(kv, config.auth.registrationMaxPerHour, logger);

  /** Maps a unique violation to 409, naming what is taken. */
  async function duplicateToConflict(error: unknown, username: string, email: string, exceptId?: string): Promise<never> {
    if (!isUniqueViolation(error)) throw error;
    const taken = await repo.takenIdentifiers(db.primary, username, email, exceptId);
    const what = taken.username ? 'username' : taken.email ? 'email' : 'username or email';
    throw new AppError('conflict', `A user with that ${what} already exists`, { cause: error });
  }

  /** `clientAddress`: a sign-up, counted per address (after the password rules, which tell nothing). */
  async function create(account: NewAccount, isStaff: boolean, clientAddress?: string): Promise<UserRow> {
    checkNewPassword(account);
    if (clientAddress !== undefined) await countSignUpAttempt(clientAddress);
    const passwordHash = await hashPassword(account.password);
    try {
      return await repo.insertUser(db.primary, {
        id: newId(),
        username: account.username,
        email: account.email,
        passwordHash,
        firstName: account.firstName ?? '',
        lastName: account.lastName ?? '',
        isStaff,
      });
    } catch (error) {
      return duplicateToConflict(error, account.username, account.email);
    }
  }

  async function update(id: string, changes: repo.UserChanges, onlyCustomers: boolean, current: UserRow): Promise<UserRow> {
    try {
      const row = await repo.updateUser(db.primary, id, changes, onlyCustomers);
      if (!row) throw notFound('User');
      return row;
    } catch (error) {
      return duplicateToConflict(error, current.username, changes.email ?? current.email, id);
    }
  }

  /**
   * A new email, in one transaction with what must go with it: the reset links already mailed
   * (to the old address, or to an address a thief just set) stop working, and the old address is
   * told, so a takeover through a stolen token does not go unnoticed.
   */
  async function changeEmail(current: UserRow, changes: ProfileChanges, onlyCustomers: boolean): Promise<UserRow> {
    try {
      const row = await db.primary.transaction(async (tx: Db) => {
        const updated = await repo.updateUser(tx, current.id, changes, onlyCustomers);
        if (!updated) throw notFound('User');
        await repo.deleteUserResets(tx, current.id);
        const mail = emailChangedMail(current.username, updated.email);
        await repo.enqueueMail(tx, { userId: current.id, address: current.email }, mail, new Date(Date.now() + NOTICE_TTL_MS));
        return updated;
      });
      logger.info({ user_id: current.id }, 'email changed; the old address told, reset links ended');
      return row;
    } catch (error) {
      return duplicateToConflict(error, current.username, changes.email ?? current.email, current.id);
    }
  }

  const changesEmail = (current: UserRow, changes: ProfileChanges) => changes.email !== undefined && changes.email !== current.email;

  /** Deactivation: the marker first, so a failure leaves the account as it was. */
  async function deactivate(user: UserRow): Promise<UserRow> {
    const at = new Date();
    await revocation.revokeUser(user.id, at);
    const row = await db.primary.transaction(async (tx: Db) => {
      const updated = await repo.updateUser(tx, user.id, { isActive: false, tokensNotBefore: at, tokensNotBeforeSession: null }, true);
      await repo.revokeUserTokens(tx, user.id);
      return updated;
    });
    if (!row) throw notFound('Customer');
    logger.info({ user_id: user.id }, 'account deactivated');
    return row;
  }

  async function findCustomer(id: string): Promise<UserRow> {
    const row = await repo.findUserById(db.primary, id);
    if (!row || row.isStaff) throw notFound('Customer');
    return row;
  }

  return {
    register: (account: NewAccount, clientAddress: string) => create(account, false, clientAddress),
    createCustomer: (account: NewAccount) => create(account, false),
    /** Staff accounts have no public sign-up: the CLI and the bootstrap come here. */
    createStaff: (account: NewAccount) => create(account, true),

    async getProfile(userId: string): Promise<UserRow> {
      // Primary: a profile just changed must read back changed.
      const row = await repo.findUserById(db.primary, userId);
      if (!row || !row.isActive) throw notFound('User');
      return row;
    },

    /**
     * A new email needs the current password: with only a stolen access token, the thief could
     * otherwise point password resets at an address of their own and keep the account for good.
     */
    async updateProfile(userId: string, changes: ProfileChanges, currentPassword: string | undefined, clientAddress: string): Promise<UserRow> {
      const current = await repo.findUserById(db.primary, userId);
      if (!current || !current.isActive) throw notFound('User');
      if (!changesEmail(current, changes)) return update(userId, changes, false, current);
      if (currentPassword === undefined) throw new AppError('not_authenticated', 'current_password is required to change the email');
      await selfService.confirmPassword(current, currentPassword, clientAddress);
      await countSignUpAttempt(clientAddress);
      return changeEmail(current, changes, false);
    },

    listCustomers(filter: repo.CustomerFilter) {
      // Staff listings may be a moment stale; a replica serves them.
      return db.read((reader) => repo.listCustomers(reader, filter));
    },

    getCustomer: findCustomer,

    async updateCustomer(id: string, changes: CustomerChanges): Promise<UserRow> {
      const current = await findCustomer(id);
      if (current.closedAt) throw new AppError('conflict', 'The customer closed this account; it cannot be changed or reopened');
      const { isActive, ...profile } = changes;
      let row = current;
      if (changesEmail(current, profile)) row = await changeEmail(current, profile, true);
      else if (Object.values(profile).some((v) => v !== undefined)) row = await update(id, profile, true, current);
      if (isActive === false && row.isActive) row = await deactivate(row);
      if (isActive === true && !row.isActive) row = await update(id, { isActive: true }, true, row);
      return row;
    },

    async deactivateCustomer(id: string): Promise<void> {
      const current = await findCustomer(id);
      // Repeating it re-sends the marker, so a retry after a failed one completes the job.
      await deactivate(current);
    },

    /**
     * Makes sure ADMIN_USERNAME exists as an active staff account with ADMIN_PASSWORD. Safe to run
     * on every start and from many processes at once (insert … on conflict do nothing).
     */
    async ensureAdmin(): Promise<void> {
      const { adminUsername, adminPassword } = platform.config.auth;
      if (!adminUsername || !adminPassword) return;
      const existing = await repo.findUserByUsername(db.primary, adminUsername);
      if (!existing) {
        const inserted = await repo.insertUserIfAbsent(db.primary, {
          id: newId(),
          username: adminUsername,
          email: `${adminUsername.toLowerCase()}@admin.invalid`,
          passwordHash: await hashPassword(adminPassword),
          isStaff: true,
        });
        if (inserted) logger.info({ user_id: inserted.id }, 'admin account created');
        // Nothing inserted: another process won the race, or the placeholder email is taken.
        else if (!(await repo.findUserByUsername(db.primary, adminUsername))) logger.error('admin account could not be created: its email is taken');
        return;
      }
      const changes: repo.UserChanges = {};
      if (!existing.isStaff) changes.isStaff = true;
      if (!existing.isActive) changes.isActive = true;
      if (!(await verifyPassword(existing.passwordHash, adminPassword))) changes.passwordHash = await hashPassword(adminPassword);
      if (Object.keys(changes).length > 0) {
        await repo.updateUser(db.primary, existing.id, changes);
        logger.info({ user_id: existing.id, changed: Object.keys(changes).filter((k) => k !== 'passwordHash').concat(changes.passwordHash ? ['password'] : []) }, 'admin account updated');
      }
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
