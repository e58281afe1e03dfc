/**
 * `npm start` as a person runs it: it prints where things are, `GET /` says the same, and SIGTERM
 * to the npm process (what a process manager or Ctrl-C in a container sends) stops the server
 * within SHUTDOWN_TIMEOUT_MS instead of leaving it answering behind a dead npm.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { developmentEnv, startupBanner } from '../helpers/dev-server.ts';

const SHUTDOWN_TIMEOUT_MS = 10_000;

/** Resolves once nothing accepts connections on the port any more. */
async function closedPort(port: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (!open) return;
    await new Promise((r) => setImmediate(r));
  }
}

it('prints the start-up banner and stops on SIGTERM to npm', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'opply-npm-start-'));
  const child = spawn('npm', ['start', '--silent'], {
    env: {
      ...process.env,
      // The script's `node` (and npm's own) is the one running this test.
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
      ...developmentEnv(dataDir, { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const banner = await startupBanner(child);
    const base = `http://127.0.0.1:${banner.port}`;
    for (const text of [`${base}/api/`, `${base}/docs`, `${base}/admin/`, 'ADMIN_USERNAME and ADMIN_PASSWORD', 'npm run create-staff']) {
      expect(banner.msg).toContain(text);
    }
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(await index.json()).toMatchObject({ docs: '/docs', openapi: '/openapi.json', console: '/admin/' });

    const signalled = Date.now();
    child.kill('SIGTERM');
    await Promise.all([exited, closedPort(banner.port)]);
    expect(Date.now() - signalled).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  } finally {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
  // Starting a real server process (tsx and PGlite) takes ~10 s on an idle 2-core machine and was
  // measured at 73–151 s at load average 26–32: the deadline only declares a hang.
}, 300_000);
