/**
 * External load tools and a PostgreSQL of the bench's own, for bench/orders and bench/cart:
 *  - `startBenchPostgres`: a private PostgreSQL 15 (the machine's server binaries, a data folder
 *    under the temp dir on the same disk) with the shared server's durability settings (fsync and
 *    synchronous_commit on) but room for 256 benchmark clients. The shared server allows 100
 *    connections and serves every helper's tests: 256 pgbench clients cannot run there.
 *  - `pgbench`: one `pgbench -M prepared` run of a script file, its tps and failures;
 *  - `wrk`: one `wrk` run with a Lua script, its rate, p50/p99 and answers by status.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { cpuOf } from './lib.ts';

const run = promisify(execFile);

export interface BenchPostgres {
  /** URL of its maintenance database. */
  url: string;
  /** Settings that differ from PostgreSQL's defaults, for the table's header. */
  settings: string;
  /** CPU seconds its processes have used so far: the postmaster, its live children, and those gone. */
  cpu(): number;
  destroy(): void;
}

/** /proc/<pid>/stat, or '' for a process that has gone (backends come and go while we read). */
function readStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

/** utime + stime (+ cutime + cstime: reaped children) of a process, in seconds. */
function cpuTicks(pid: number, withReaped: boolean): number {
  const stat = readStat(pid);
  if (!stat) return 0;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + (withReaped ? Number(f[13]) + Number(f[14]) : 0)) / 100;
}

function processTreeCpu(root: number): number {
  let total = cpuTicks(root, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === root) total += cpuTicks(Number(entry), false);
  }
  return total;
}

/** The machine's busy and total CPU seconds so far (/proc/stat), for its busy share over a window. */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0) / 100;
  const idle = (fields[3]! + fields[4]!) / 100;
  return { busy: total - idle, total };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const postgresBin = () => {
  const root = '/usr/lib/postgresql';
  const major = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(a) - Number(b)).at(-1) : undefined;
  if (!major) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (or set BENCH_DATABASE_URL)');
  return path.join(root, major, 'bin');
};

/** initdb + pg_ctl start as the `postgres` user (needs root, like test/helpers/private-services.ts). */
export async function startBenchPostgres(maxConnections: number): Promise<BenchPostgres> {
  const bin = postgresBin();
  const port = await freePort();
  const root = mkdtempSync(path.join(os.tmpdir(), 'opply-bench-pg-'));
  chmodSync(root, 0o755);
  const [data, sock] = [path.join(root, 'data'), path.join(root, 'sock')];
  const ids = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  for (const dir of [data, sock]) {
    execFileSync('mkdir', ['-p', dir]);
    chownSync(dir, ids('-u'), ids('-g'));
  }
  const asPostgres = (cmd: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: 'pipe', timeout: 120_000 });
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8']);
  // track_commit_timestamp: bench/orders reads each async order's commit time (pg_xact_commit_timestamp).
  const settings = `max_connections=${maxConnections} shared_buffers=128MB max_wal_size=1GB track_commit_timestamp=on`;
  const options = `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 ${settings.split(' ').map((s) => `-c ${s}`).join(' ')}`;
  asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', path.join(sock, 'server.log'), '-w', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.end();
  const postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url,
    settings: `${settings} (fsync, synchronous_commit: on)`,
    cpu: () => processTreeCpu(postmaster),
    destroy() {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  latencyMs: number;
}

/** `pgbench -n -M prepared` of `script` with `-D` variables; -j 2 threads (the machine's cores). */
export async function pgbench(url: string, opts: { script: string; clients: number; seconds: number; vars: Record<string, string | number> }): Promise<PgbenchResult> {
  const args = ['-n', '-M', 'prepared', '-f', opts.script, '-c', String(opts.clients), '-j', '2', '-T', String(opts.seconds)];
  for (const [k, v] of Object.entries(opts.vars)) args.push('-D', `${k}=${v}`);
  const { stdout } = await run('pgbench', [...args, url], { maxBuffer: 1 << 22 }).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`pgbench failed: ${error.stderr ?? ''}${error.stdout ?? ''}`.slice(0, 2000));
  });
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    tps: num(/tps = ([\d.]+)/),
    transactions: num(/number of transactions actually processed: (\d+)/),
    failed: num(/number of failed transactions: (\d+)/) || 0,
    latencyMs: num(/latency average = ([\d.]+) ms/),
  };
}

export interface WrkResult {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** Answers by HTTP status; "errors" counts connect/read/write failures and timeouts. */
  statuses: Record<string, number>;
  errors: number;
}

/**
 * The tail every bench Lua script ends with: counts answers by status in the thread (wrk's
 * `response` hook) and prints one JSON line of figures from `done`.
 */
const WRK_TAIL = `
local threads = {}
setup = function(thread) table.insert(threads, thread) end
statuses = {}
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency)
  local counts = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("statuses")) do counts[s] = (counts[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(counts) do table.insert(parts, string.format('"%d":%d', s, n)) end
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"us":%d,"p50":%d,"p99":%d,"errors":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
`;

/** One wrk run (1 thread, `connections` connections) of `lua` (a `request` function or nothing) against `url`. */
export async function wrk(opts: { url: string; lua: string; connections: number; seconds: number; headers?: Record<string, string> }): Promise<WrkResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  try {
    const script = path.join(dir, 'load.lua');
    writeFileSync(script, `${opts.lua}\n${WRK_TAIL}`);
    const headers = Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '10s', '-s', script, ...headers, opts.url];
    const { stdout } = await run('wrk', args, { maxBuffer: 1 << 22 });
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { requests: number; us: number; p50: number; p99: number; errors: number; statuses: Record<string, number> };
    return { requests: r.requests, perSecond: r.requests / (r.us / 1e6), p50: r.p50 / 1000, p99: r.p99 / 1000, statuses: r.statuses, errors: r.errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Lua array literal of strings. */
export const luaStrings = (values: string[]) => `{ ${values.map((v) => JSON.stringify(v)).join(', ')} }`;

/** "nproc 2, load 1.2 / 0.9 / 0.7": the machine line of each table. */
export const machine = () => `nproc ${os.availableParallelism()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`;

/** CPU per unit of work (an order, a request), µs: the server process, PostgreSQL (all its processes), Redis; the machine's busy share. */
export interface CpuShare {
  server?: number;
  postgres?: number;
  redis: number;
  machineBusy: number;
}

export interface Probes {
  serverPid: number | undefined;
  /** More processes whose CPU counts as the server's (bench/orders: the async worker). */
  extraPids?: Array<number | undefined>;
  postgresCpu: (() => number) | undefined;
  redisCpu: () => Promise<number>;
}

/** Runs `fn` (which returns how many units of work it got done, and its result) and the CPU it cost per unit. */
export async function metered<T>(probes: Probes, fn: () => Promise<{ count: number; result: T }>): Promise<{ result: T; cpu: CpuShare }> {
  const serverCpu = () => [probes.serverPid, ...(probes.extraPids ?? [])].map(cpuOf).reduce((a, b) => (a === undefined || b === undefined ? undefined : a + b), 0 as number | undefined);
  const read = async () => ({ server: serverCpu(), postgres: probes.postgresCpu?.(), redis: await probes.redisCpu(), machine: machineCpu() });
  const a = await read();
  const { count, result } = await fn();
  const b = await read();
  const per = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : ((y - x) * 1e6) / Math.max(1, count));
  return {
    result,
    cpu: {
      server: per(a.server, b.server),
      postgres: per(a.postgres, b.postgres),
      redis: per(a.redis, b.redis)!,
      machineBusy: (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total),
    },
  };
}

/** Redis's own CPU seconds so far (INFO cpu), through `client`. */
export const redisCpuOf = (client: { info(section: string): Promise<string> }) => async () => {
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return read('used_cpu_user') + read('used_cpu_sys');
};
