/**
 * Issue 23, finding 11: outside production the signing secret was a constant in the repository,
 * and a staff token forged with it (for a user that does not exist) read the customer list. Now
 * the start-up code generates one per data directory (DATA_DIR/.jwt-secret, 0600), or per process
 * with a warning where there is none; `loadConfig` stays pure.
 *
 * Through the real entry point (src/server.ts) in a process of its own, as `npm start` runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMER_DEV_JWT_SECRET, JWT_SECRET_FILE, loadConfig } from '../../src/platform/config.ts';
import { resolveSigningSecret, secretOfDataDir } from '../../src/platform/signing-secret.ts';
import { developmentEnv, startupBanner } from '../helpers/dev-server.ts';

const STAFF = { username: 'staffer', password: 'staff-password-0123' };

interface Server {
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
}

/** `node --import tsx src/server.ts` with nothing set but a data directory and a staff account. */
async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, ...developmentEnv(dataDir, { ADMIN_USERNAME: STAFF.username, ADMIN_PASSWORD: STAFF.password }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { port } = await startupBanner(child);
  return { child, base: `http://127.0.0.1:${port}`, exited };
}

async function stop(server: Server | undefined) {
  if (!server || server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

/** A staff token for a user that does not exist, signed with `secret`: what the review forged. */
async function forgedStaffToken(secret: string) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'staff', username: 'intruder', sid: '00000000-0000-7000-8000-000000000000' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('opply-commerce')
    .setAudience('opply-commerce-api')
    .setSubject('00000000-0000-7000-8000-000000000001')
    .setJti('forged')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(secret));
}

const customers = (server: Server, token: string) => fetch(`${server.base}/api/identity/customers/`, { headers: { authorization: `Bearer ${token}` } });

describe('finding 11: the signing secret outside production', () => {
  let dataDir: string;
  let server: Server | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'opply-secret-'));
  });
  afterAll(async () => {
    await stop(server);
    server?.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a staff token forged with the former constant, keeps tokens across a restart, and keeps the secret 0600', async () => {
    server = await startServer(dataDir);
    expect((await customers(server, await forgedStaffToken(FORMER_DEV_JWT_SECRET))).status).toBe(401);

    const signIn = await fetch(`${server.base}/api/identity/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(STAFF) });
    expect(signIn.status).toBe(200);
    const { access } = (await signIn.json()) as { access: string };
    expect((await customers(server, access)).status).toBe(200);

    const file = path.join(dataDir, JWT_SECRET_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const secret = (await readFile(file, 'utf8')).trim();
    expect(secret.length).toBeGreaterThanOrEqual(64);

    // The same data directory after a restart: the same secret, so the token still works.
    await stop(server);
    server = await startServer(dataDir);
    expect((await customers(server, access)).status).toBe(200);
    expect((await customers(server, await forgedStaffToken(FORMER_DEV_JWT_SECRET))).status).toBe(401);
    expect((await readFile(file, 'utf8')).trim()).toBe(secret);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  }, 300_000);
});

describe('generating the secret', () => {
  it('gives every process starting at once on a fresh data directory the same secret, and leaves no temporary file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'opply-secret-race-'));
    try {
      const file = path.join(dir, 'data', JWT_SECRET_FILE);
      const secrets = await Promise.all(Array.from({ length: 20 }, () => secretOfDataDir(file)));
      expect(new Set(secrets).size).toBe(1);
      expect((await readFile(file, 'utf8')).trim()).toBe(secrets[0]);
      expect(await readdir(path.dirname(file))).toEqual([JWT_SECRET_FILE]);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without a data directory, signs with a secret of the process and warns that tokens will not survive a restart', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    expect(config.auth.jwtSecret).toBeUndefined();
    expect(config.auth.jwtSecretFile).toBeUndefined();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const [a, b] = [await resolveSigningSecret(config, logger), await resolveSigningSecret(config, logger)];
    expect(a.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(a.auth.jwtSecret).not.toBe(b.auth.jwtSecret);
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]!.msg).toMatch(/will not survive a restart/);
    expect(warnings[0]!.msg).toMatch(/Set JWT_SECRET/);
  });

  it('keeps loadConfig pure: no secret unless JWT_SECRET is set, the former constant refused, production requires one', () => {
    const config = loadConfig({ DATA_DIR: '/srv/opply' });
    expect(config.auth.jwtSecret).toBeUndefined();
    expect(config.auth.jwtSecretFile).toBe(path.join('/srv/opply', JWT_SECRET_FILE));
    expect(loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:1/none', DATA_DIR: '/srv/opply' }).auth.jwtSecretFile).toBe(path.join('/srv/opply', JWT_SECRET_FILE));
    expect(() => loadConfig({ JWT_SECRET: FORMER_DEV_JWT_SECRET })).toThrow(/former development default/);
    expect(() => loadConfig({ NODE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:1' })).toThrow(/JWT_SECRET must be set in production/);
  });
});
