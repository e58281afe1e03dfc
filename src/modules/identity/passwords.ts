/**
 * Password hashing (argon2id) and the strength rule for new passwords.
 *
 * Strength follows NIST SP 800-63B: a minimum length and a check against passwords known from
 * breaches, and no composition rules. common-passwords.txt holds the 30,000 most frequent
 * passwords of the zxcvbn project's list (MIT licence, Dropbox), lower-cased.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { FieldError } from '../../platform/errors.ts';

/** OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). argon2id is the library's default. */
const ARGON2_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

export const MIN_PASSWORD_LENGTH = 10;
/** Long enough for any passphrase, short enough that hashing it is not a denial of service. */
export const MAX_PASSWORD_LENGTH = 256;

let commonPasswords: Set<string> | undefined;
function isCommon(password: string): boolean {
  commonPasswords ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean),
  );
  return commonPasswords.has(password.toLowerCase());
}

/** Field errors for a new password; empty when it is acceptable. */
export function passwordProblems(password: string, context: { username?: string; email?: string } = {}): FieldError[] {
  const problems: string[] = [];
  if ([...password].length < MIN_PASSWORD_LENGTH) problems.push(`must be at least ${MIN_PASSWORD_LENGTH} characters`);
  else if (isCommon(password)) problems.push('is too common: it appears in lists of breached passwords');
  const lower = password.toLowerCase();
  const personal = [context.username, context.email, context.email?.split('@')[0]].filter((v): v is string => !!v && v.length >= 4);
  if (personal.some((value) => value.toLowerCase() === lower)) problems.push('must not be the same as the username or email');
  return problems.map((message) => ({ field: 'password', message }));
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

// A real hash of a random secret: checking a login for an unknown user against it costs the same
// time as checking a wrong password, so response times do not reveal which usernames exist.
let dummyHash: Promise<string> | undefined;
const dummy = () => (dummyHash ??= hashPassword(randomBytes(32).toString('base64url')));

/** Verifies a password against a stored hash, or against the dummy hash when there is none. */
export async function verifyPassword(storedHash: string | undefined, password: string): Promise<boolean> {
  const target = storedHash ?? (await dummy());
  try {
    const ok = await verify(target, password);
    return ok && storedHash !== undefined;
  } catch {
    // A malformed stored hash is a failed login, not a crash.
    return false;
  }
}

/** Warms the dummy hash so the first unknown-user login is not slower than the rest. */
export async function warmUpPasswords(): Promise<void> {
  await dummy();
}
