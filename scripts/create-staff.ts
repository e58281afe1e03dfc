/**
 * `npm run create-staff -- --username NAME --email E [--first-name F] [--last-name L]`
 * Creates a staff account. The password comes from STAFF_PASSWORD, else ADMIN_PASSWORD, else a
 * hidden prompt when a terminal is attached; it is never taken from the command line, where it
 * would end up in the shell history and the process list.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/platform/config.ts';
import { AppError } from '../src/platform/errors.ts';
import { createLogger } from '../src/platform/logger.ts';
import { migrate } from '../src/platform/migrate.ts';
import { createServices } from '../src/services.ts';
import { resolveSigningSecret } from '../src/platform/signing-secret.ts';

const USAGE = 'usage: npm run create-staff -- --username NAME --email EMAIL [--first-name F] [--last-name L]';

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    let value = '';
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stdout.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n') return finish();
        if (c === '\u0003' || c === '\u0004') return finish(new Error('cancelled'));
        if (c === '\u007f' || c === '\b') value = value.slice(0, -1);
        else value += c;
      }
    };
    process.stdout.write(question);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.resume();
    input.on('data', onData);
  });
}

async function readPassword(): Promise<string> {
  const fromEnv = process.env.STAFF_PASSWORD || process.env.ADMIN_PASSWORD;
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) throw new Error('set STAFF_PASSWORD (no terminal to prompt on)');
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Password (again): ');
  if (first !== second) throw new Error('the passwords do not match');
  return first;
}

const { values } = parseArgs({
  options: {
    username: { type: 'string' },
    email: { type: 'string' },
    'first-name': { type: 'string' },
    'last-name': { type: 'string' },
  },
});
if (!values.username || !values.email) {
  console.error(USAGE);
  process.exit(2);
}

const loaded = loadConfig(process.env);
const logger = createLogger(loaded);
// Creating an account signs no token.
const config = await resolveSigningSecret(loaded, logger, { verifiesTokens: false });
const services = await createServices(config, logger);
let status = 0;
try {
  await migrate(services.db);
  const password = await readPassword();
  const user = await services.identity.createStaff({
    username: values.username,
    email: values.email,
    password,
    firstName: values['first-name'],
    lastName: values['last-name'],
  });
  console.log(`staff account ${user.username} created (id ${user.id})`);
} catch (error) {
  status = 1;
  if (error instanceof AppError) {
    console.error(`cannot create the staff account: ${error.detail ?? error.code}`);
    for (const e of error.errors ?? []) console.error(`  ${e.field}: ${e.message}`);
  } else {
    console.error(`cannot create the staff account: ${error instanceof Error ? error.message : String(error)}`);
  }
} finally {
  await services.close();
}
process.exit(status);
