/**
 * Helpers shared by the closed-loop benches that run the real server in a child process
 * (bench/orders, bench/cart): a dedicated database beside the maintenance one, a keep-alive HTTP
 * client, the server started with bench settings, N signed-in customers, the load loop and the
 * result table with ratios to the bare ceiling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import pg from 'pg';

/** The URL of database `dbName` on the same server as the maintenance database `adminUrl`. */
export function databaseUrl(adminUrl: string, dbName: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** Runs one statement (create / drop database) on the maintenance database. */
export async function admin(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** One statement on `url` over a connection of its own; its rows. */
export async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export type Response = { status: number; body: string };
export type Request = (method: string, path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;

/** A JSON client for 127.0.0.1:`port` on a keep-alive agent of `maxSockets` sockets (one a bench client). */
export function httpClient(port: number, maxSockets: number): { request: Request; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const request: Request = (method, path, body, headers = {}) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method, path, agent, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
  return { request, close: () => agent.destroy() };
}

/** The environment every bench child (server, worker) starts with, before its own additions. */
const benchEnv = (databaseUrl: string): NodeJS.ProcessEnv => ({
  ...process.env,
  NODE_ENV: 'production',
  JWT_SECRET: 'bench-only-secret-bench-only-secret-0123456789',
  DATABASE_URL: databaseUrl,
  LOG_LEVEL: 'warn',
  SEED_DEMO_DATA: 'false',
  // Production refuses to start without a mail transport. Nothing listens here: a bench whose
  // worker sends mails (orders, webhooks) points SMTP_URL at startSmtpSink() instead.
  SMTP_URL: 'smtp://127.0.0.1:2525',
  // Benches sign up thousands of customers from 127.0.0.1: an allowance for them, not the default.
  REGISTRATION_MAX_PER_HOUR: '1000000',
});

/**
 * bench/smtp-sink.ts as a child: an SMTP server that accepts every mail (and keeps none). Pass
 * `url` as SMTP_URL to the server and the worker; `stop()` returns how many mails it accepted.
 */
export async function startSmtpSink(): Promise<{ url: string; stop(): Promise<number> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./smtp-sink.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffered = '';
  const ready = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`smtp sink exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      const port = lines.map((l) => JSON.parse(l) as { port?: number }).find((l) => l.port)?.port;
      if (port) resolve(port);
    });
  });
  const port = await ready;
  let stopped: Promise<number> | undefined;
  return {
    url: `smtp://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<number>((resolve) => {
        child.once('exit', () => {
          lines.push(buffered);
          resolve(lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { accepted?: number }).find((l) => l.accepted !== undefined)?.accepted ?? 0);
        });
        child.kill('SIGTERM');
      });
      return stopped;
    },
  };
}

/**
 * Spawns src/server.ts in production mode on 127.0.0.1:`port` against `databaseUrl`, with `env`
 * added (pool size, Redis, rate limits: whatever the bench needs), and waits until it answers.
 * `quietStdout` sends its stdout (the JSON log) to /dev/null, for benches that log every request.
 */
export async function startServer(opts: {
  port: number;
  databaseUrl: string;
  env?: Record<string, string>;
  request: Request;
  quietStdout?: boolean;
  /** Another checkout of the code to run (bench/tracing runs main's beside this branch's). */
  cwd?: string;
  /** Node options before the entry point (bench/orders: `--cpu-prof`). */
  nodeArgs?: string[];
  /** Its stdout (the JSON log) into this file instead (bench/orders reads the writer's batch lines). */
  stdoutFile?: string;
  /** How long to wait for it to answer (a loaded machine compiles the TypeScript slowly). */
  startSeconds?: number;
}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/server.ts'], {
    cwd: opts.cwd,
    env: { ...benchEnv(opts.databaseUrl), PORT: String(opts.port), HOST: '127.0.0.1', ...opts.env },
    stdio: ['ignore', opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : opts.quietStdout ? 'ignore' : 'inherit', 'inherit'],
  });
  for (let i = 0; i < (opts.startSeconds ?? 20) * 5; i++) {
    const up = await opts.request('GET', '/health/live', undefined).catch(() => undefined);
    if (up?.status === 200) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error('server did not start');
}

/**
 * Spawns src/worker.ts (`npm run worker`: the background jobs, and in ORDERS_MODE=async the
 * accepted-order consumer) like startServer, its JSON log (LOG_LEVEL=info) into `stdoutFile`;
 * waits for its 'worker started' line.
 */
export async function startWorker(opts: { databaseUrl: string; env?: Record<string, string>; stdoutFile: string; nodeArgs?: string[] }): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/worker.ts'], {
    env: { ...benchEnv(opts.databaseUrl), LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', openSync(opts.stdoutFile, 'w'), 'inherit'],
  });
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
    if (readFileSync(opts.stdoutFile, 'utf8').includes('"worker started"')) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error('worker did not start');
}

/** Stops the server started by startServer and waits for it to exit. */
export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Registers and logs in `count` customers named `${usernamePrefix}${i}`; returns their
 * Authorization header values in order. `loginHeaders(i)` adds headers to customer i's login.
 */
export async function signIn(
  request: Request,
  opts: { count: number; usernamePrefix: string; loginHeaders?: (i: number) => Record<string, string> },
): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < opts.count; i++) {
    const username = `${opts.usernamePrefix}${i}`;
    const password = `bench-password-${i}-long-enough`;
    const reg = await request('POST', '/api/identity/register/', { username, email: `${username}@example.com`, password });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.body}`);
    const login = await request('POST', '/api/identity/token/', { username, password }, opts.loginHeaders?.(i) ?? {});
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.body}`);
    tokens.push(`Bearer ${JSON.parse(login.body).access}`);
  }
  return tokens;
}

export type Run = { perSecond: number; counts: Record<string, number> };

/**
 * Closed loop: `clients` loops each call `once` (given the client's index and its round) until
 * `seconds` have passed; counts by the outcome it returns ('ok' is the one per-second counts).
 */
export async function drive(clients: number, seconds: number, once: (client: number, round: number) => Promise<string>): Promise<Run> {
  const counts = new Map<string, number>();
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let round = 0; Date.now() < deadline; round++) {
        const outcome = await once(client, round).catch((error: Error) => `error: ${error.message.slice(0, 60)}`);
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  return { perSecond: (counts.get('ok') ?? 0) / elapsed, counts: Object.fromEntries(counts) };
}

export type Result = Run & { scenario: string; mode: string };

/** Prints the results as a Markdown table, each row's rate as a ratio to its scenario's `ceilingMode` row. */
export function printRatios(results: Result[], opts: { unit: string; clients: number; seconds: number; ceilingMode: string }): void {
  const ceiling = (scenario: string) => results.find((r) => r.scenario === scenario && r.mode === opts.ceilingMode)!.perSecond;
  console.log(`\n${opts.unit}/s, ${opts.clients} concurrent clients, ${opts.seconds} s per run\n`);
  console.log(`| scenario | mode | ${opts.unit}/s | ratio to bare | outcomes |`);
  console.log('|---|---|---:|---:|---|');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.mode} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / ceiling(r.scenario)).toFixed(2)} | ${JSON.stringify(r.counts)} |`);
  }
}

/** CPU seconds a process has used so far (Linux /proc; undefined elsewhere). */
export function cpuOf(pid: number | undefined): number | undefined {
  const stat = pid && existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : undefined;
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}
