/**
 * Private Redis and PostgreSQL servers for fault tests: each on a free loopback port, in a temp
 * directory of its own, started by the test that needs it and removed afterwards. A test may kill,
 * pause or stop these; the machine's shared services (5432, 5433, 6379) are never touched.
 *
 * Availability: Redis needs `redis-server` on the PATH; PostgreSQL needs the Debian server binaries
 * (/usr/lib/postgresql/<major>/bin) and root (initdb runs as the `postgres` user). Gate tests with
 * `privateRedisAvailable` / `privatePostgresAvailable`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';

function which(command: string): string | undefined {
  try {
    return execFileSync('which', [command], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A port that was free a moment ago (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------------------------------------
// Redis

const redisServer = which('redis-server');
export const privateRedisAvailable = redisServer !== undefined;

export interface PrivateRedisOptions {
  /** Append-only file with `appendfsync always`: every acknowledged write survives a kill -9. */
  appendonly?: boolean;
  /** With `appendonly`: the fsync policy (default `always`; `everysec` can lose a second of writes). */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** More redis-server arguments, e.g. `['--rename-command', 'CONFIG', '']` as on a managed Redis. */
  args?: string[];
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** Sends a signal to the server (SIGKILL: a crash; its AOF, if any, stays for restart()). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and directory (reloading its AOF). */
  restart(): Promise<void>;
  /** CLIENT PAUSE ALL for `ms`: every client's commands wait, as on a stalled server. */
  pause(ms: number): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  if (!redisServer) throw new Error('redis-server is not installed');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opply-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
  args.push(...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always'] : ['--appendonly', 'no']));
  args.push(...(options.args ?? []));
  let child: ChildProcess | undefined;

  const ping = async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  };

  async function start() {
    child = spawn(redisServer!, args, { stdio: 'ignore' });
    await until(`private Redis on ${port}`, ping, 10_000);
  }

  async function kill(signal: NodeJS.Signals = 'SIGKILL') {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  }

  await start();
  return {
    url,
    port,
    dir,
    kill,
    restart: start,
    async pause(ms) {
      const client = new Redis(url, { maxRetriesPerRequest: 0 });
      try {
        await client.call('CLIENT', 'PAUSE', String(ms), 'ALL');
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster

export const privateRedisClusterAvailable = redisServer !== undefined && which('redis-cli') !== undefined;

export interface PrivateRedisClusterNode {
  port: number;
  url: string;
  /** A client of this one node (not a cluster client), for CLUSTER/INFO commands. */
  client(): Redis;
}

export interface PrivateRedisCluster {
  /** A seed node's URL, what REDIS_URL names with REDIS_CLUSTER=true. */
  url: string;
  nodes: PrivateRedisClusterNode[];
  /**
   * Resolves once the cluster is whole as every node sees it (see clusterLacks); else throws
   * after `timeoutMs` (default 60 s) saying what was still missing, and where.
   */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

const clusterField = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

/**
 * What `node` still lacks for a whole cluster of `masters` masters with `replicas` replicas each,
 * or undefined: cluster_state:ok with all 16384 slots assigned and ok, every node known and its
 * bus link connected, every master with its replicas attached (CLUSTER NODES) and listed to
 * clients (CLUSTER SLOTS), and, on a replica,
 * its replication link up (ROLE: `connected`, so a CLUSTER FAILOVER can take over at once).
 */
async function clusterLacks(node: PrivateRedisClusterNode, masters: number, replicas: number): Promise<string | undefined> {
  const client = node.client();
  try {
    const info = String(await client.call('CLUSTER', 'INFO'));
    const expected: Array<[string, string]> = [
      ['cluster_state', 'ok'],
      ['cluster_slots_assigned', '16384'],
      ['cluster_slots_ok', '16384'],
      ['cluster_known_nodes', String(masters * (1 + replicas))],
      ['cluster_size', String(masters)],
    ];
    for (const [name, value] of expected) {
      const seen = clusterField(info, name);
      if (seen !== value) return `node ${node.port}: ${name} is ${seen ?? 'missing'}, not ${value}`;
    }
    // <id> <ip:port@bus> <flags> <master id or -> <ping> <pong> <epoch> <link-state> <slots…>
    const rows = String(await client.call('CLUSTER', 'NODES')).trim().split('\n').map((line) => line.split(' '));
    const down = rows.find((r) => r[7] !== 'connected' || /fail|handshake|noaddr/.test(r[2] ?? ''));
    if (down) return `node ${node.port}: ${down[1]} is ${down[2]}, link ${down[7]}`;
    for (const master of rows.filter((r) => r[2]!.includes('master'))) {
      const attached = rows.filter((r) => r[2]!.includes('slave') && r[3] === master[0]).length;
      if (attached < replicas) return `node ${node.port}: master ${master[1]} has ${attached} of ${replicas} replicas attached`;
    }
    // What clients are told (CLUSTER SLOTS lists a replica only once it is usable: synced, offset
    // known by gossip): every range with its master and replicas, together all 16384 slots.
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, ...Array<[string, number]>]>;
    const covered = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
    if (covered !== 16384) return `node ${node.port}: CLUSTER SLOTS covers ${covered} of 16384 slots`;
    const thin = ranges.find((r) => r.length - 3 < replicas);
    if (thin) return `node ${node.port}: CLUSTER SLOTS lists ${thin.length - 3} of ${replicas} replicas for slots ${thin[0]}-${thin[1]} (master ${thin[2]?.[1]})`;
    const role = (await client.call('ROLE')) as [string, string?, number?, string?];
    if (role[0] === 'slave' && role[3] !== 'connected') return `node ${node.port}: replica of ${role[1]}:${role[2]} is ${role[3]}, not connected`;
    return undefined;
  } finally {
    client.disconnect();
  }
}

/**
 * A Redis Cluster of `masters` masters (3 at least: redis-cli's minimum) and `replicas` replicas of
 * each, every node on free loopback ports (the cluster bus too), created with
 * `redis-cli --cluster create` and waited for until it is whole on every node (waitUntilOk, 60 s).
 */
export async function startPrivateRedisCluster(options: { masters?: number; replicas?: number } = {}): Promise<PrivateRedisCluster> {
  if (!privateRedisClusterAvailable) throw new Error('redis-server and redis-cli are needed for a private cluster');
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opply-redis-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: PrivateRedisClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const waitUntilOk = async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let lacking: string | undefined = 'not asked yet';
    while (Date.now() < deadline) {
      lacking = undefined;
      for (const node of nodes) {
        lacking = await clusterLacks(node, masters, replicas).catch((error: unknown) => `node ${node.port}: ${String(error)}`);
        if (lacking) break;
      }
      if (!lacking) return;
      await sleep(200);
    }
    throw new Error(`private Redis Cluster not ready within ${timeoutMs} ms: ${lacking}`);
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = path.join(dir, String(port));
      mkdirSync(nodeDir);
      const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', nodeDir, '--save', '', '--appendonly', 'no'];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--daemonize', 'no');
      children.push(spawn(redisServer!, args, { stdio: 'ignore' }));
      const url = `redis://127.0.0.1:${port}`;
      const client = () => {
        const c = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
        c.on('error', () => undefined);
        return c;
      };
      nodes.push({ port, url, client });
      await until(`cluster node on ${port}`, async () => {
        const c = client();
        try {
          return (await c.ping()) === 'PONG';
        } finally {
          c.disconnect();
        }
      }, 10_000);
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    execFileSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { stdio: 'ignore', timeout: 60_000 });
    await waitUntilOk();
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: nodes[0]!.url, nodes, waitUntilOk, stop };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')));
  const newest = majors.sort((a, b) => Number(a) - Number(b)).at(-1);
  return newest ? path.join(root, newest, 'bin') : undefined;
}

const pgBin = postgresBin();
const isRoot = process.getuid?.() === 0;
export const privatePostgresAvailable = pgBin !== undefined && isRoot && which('runuser') !== undefined;

export interface PrivatePostgres {
  /** URL of the `postgres` database (user postgres, trust auth). */
  url: string;
  port: number;
  /** URL of another database on this server. */
  urlOf(database: string): string;
  /** Fast shutdown (`pg_ctl stop -m fast`): connections are closed, new ones refused. */
  stop(): Promise<void>;
  /** Immediate shutdown, as a crash (`-m immediate`). */
  crash(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

function asPostgres(command: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe', timeout: 60_000 });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!privatePostgresAvailable) throw new Error('private PostgreSQL needs the server binaries and root');
  const port = await freePort();
  const root = mkdtempSync(path.join(os.tmpdir(), 'opply-pg-'));
  chmodSync(root, 0o755);
  const data = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  for (const dir of [data, socketDir]) {
    execFileSync('mkdir', ['-p', dir]);
    chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  }
  asPostgres(path.join(pgBin!, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const ctl = (...args: string[]) => asPostgres(path.join(pgBin!, 'pg_ctl'), ['-D', data, ...args]);
  const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;

  const ready = async () => {
    const client = new pg.Client({ connectionString: urlOf('postgres'), connectionTimeoutMillis: 500 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  async function start() {
    ctl('-o', options, '-l', path.join(socketDir, 'server.log'), '-w', 'start');
    await until(`private PostgreSQL on ${port}`, ready, 30_000);
  }

  await start();
  return {
    url: urlOf('postgres'),
    port,
    urlOf,
    async stop() {
      ctl('-m', 'fast', '-w', 'stop');
    },
    async crash() {
      ctl('-m', 'immediate', '-w', 'stop');
    },
    start,
    async destroy() {
      try {
        ctl('-m', 'immediate', '-w', 'stop');
      } catch {
        // already stopped
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
