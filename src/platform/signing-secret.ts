/**
 * The access-token signing secret when JWT_SECRET is unset (outside production; production refuses
 * to start without one). Never a constant in the repository (issue 23, finding 11: a staff token
 * forged with the old constant was accepted):
 *
 * - with a data directory (embedded PGlite, or DATA_DIR set): generated once and kept in
 *   DATA_DIR/.jwt-secret (mode 0600), so tokens survive a restart. Created atomically: the secret
 *   is written to a temporary file and linked to its name, which fails if the name exists, so two
 *   processes starting at once both end up reading the one that won;
 * - without one (DATABASE_URL and no DATA_DIR): random per process, with a warning, since tokens
 *   then die with the process and several processes would refuse each other's tokens.
 *
 * `loadConfig` stays pure: the entry points (server, worker, scripts, tests) call this before
 * createServices, which accepts only a config with a secret.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.ts';

/** A config whose signing secret is known: what the services are built from. */
export type ReadyConfig = Config & { readonly auth: Config['auth'] & { readonly jwtSecret: string } };

/** 48 random bytes, base64url: 64 characters, like the secret the AWS stack generates. */
const newSecret = () => randomBytes(48).toString('base64url');
const MIN_LENGTH = 32;

export interface SigningSecretOptions {
  /**
   * False for processes that neither sign nor verify tokens (the worker, the scripts): without a
   * data directory their per-process secret is never used, so there is nothing to warn about.
   */
  verifiesTokens?: boolean;
}

export async function resolveSigningSecret(config: Config, logger: Logger, options: SigningSecretOptions = {}): Promise<ReadyConfig> {
  if (config.auth.jwtSecret !== undefined) return config as ReadyConfig;
  const file = config.auth.jwtSecretFile;
  if (file === undefined) {
    if (options.verifiesTokens !== false) {
      logger.warn(
        'JWT_SECRET is not set and there is no data directory (DATABASE_URL without DATA_DIR): tokens are signed with a random secret of this process, ' +
          'so they will not survive a restart, and several processes refuse each other’s tokens. Set JWT_SECRET (the same in every process), or DATA_DIR.',
      );
    }
    return withSecret(config, newSecret());
  }
  const secret = await secretOfDataDir(file, logger);
  logger.info({ file }, 'JWT_SECRET is not set: signing with the secret generated for this data directory');
  return withSecret(config, secret);
}

/** The config with a secret of the caller's choosing (tests, the OpenAPI generator). */
export function withSecret(config: Config, jwtSecret: string): ReadyConfig {
  return Object.freeze({ ...config, auth: Object.freeze({ ...config.auth, jwtSecret }) });
}

/** Reads the data directory's secret, creating it first if there is none. */
export async function secretOfDataDir(file: string, logger?: Logger): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readSecret(file);
  if (existing !== undefined) return checked(file, existing, logger);
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${newSecret()}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link(2) fails with EEXIST when another process got there first: its secret is the one.
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  const secret = await readSecret(file);
  if (secret === undefined) throw new Error(`${file} vanished while it was being created`);
  return checked(file, secret, logger);
}

async function readSecret(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function checked(file: string, secret: string, logger?: Logger): Promise<string> {
  if (secret.length < MIN_LENGTH) {
    throw new Error(`${file} holds no usable signing secret (under ${MIN_LENGTH} characters): delete it to have one generated (every token then ends), or set JWT_SECRET`);
  }
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    // Only this user may read it: anyone who can signs tokens of every account.
    await chmod(file, 0o600);
    logger?.warn({ file, mode: (mode & 0o777).toString(8) }, 'the signing secret was readable by others: its mode is now 0600');
  }
  return secret;
}
