/** Starts test/fixtures/webhook-receiver.ts in another process and talks to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { Webhook } from 'standardwebhooks';

export interface ReceivedHook {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface Receiver {
  port: number;
  url(path: string): string;
  received(path?: string): Promise<ReceivedHook[]>;
  setMode(path: string, mode: 'ok' | 'fail' | 'hang'): Promise<void>;
  /** Ends the process (its recorded requests with it); `start()` listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/webhook-receiver.ts', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.once('error', reject);
      child.stdout!.once('data', (chunk: Buffer) => {
        port = JSON.parse(chunk.toString().split('\n')[0]!).port;
        resolve();
      });
    });
  await launch();
  const base = () => `http://127.0.0.1:${port}`;
  return {
    get port() {
      return port;
    },
    url: (path) => `${base()}${path}`,
    async received(path) {
      const all = (await (await fetch(`${base()}/_received`)).json()) as ReceivedHook[];
      return path ? all.filter((r) => r.path === path) : all;
    },
    async setMode(path, mode) {
      await fetch(`${base()}/_mode?path=${encodeURIComponent(path)}&mode=${mode}`, { method: 'POST' });
    },
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child?.kill('SIGKILL');
      await exited;
    },
    start: launch,
  };
}

/** Verifies a received request with the standardwebhooks library; returns the parsed body. */
export function verifyHook(secret: string, hook: ReceivedHook): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(hook.body, hook.headers) as { type: string; timestamp: string; data: Record<string, unknown> };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
