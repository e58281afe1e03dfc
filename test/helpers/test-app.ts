/**
 * buildTestApp(): the real app, in-process, over a freshly migrated database of its own (PGlite
 * copy, or a PostgreSQL database cloned from the run's template) and, when TEST_REDIS_URL is set,
 * real Redis under a key prefix of its own. One per test file; `close()` removes everything.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DestinationStream } from 'pino';
import pg from 'pg';
import { inject } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createDatabase, type Database, type DatabaseDeadlines } from '../../src/platform/db.ts';
import { createRedisClient, deleteKeysWithPrefix, waitForRedis } from '../../src/platform/kv.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { withSecret } from '../../src/platform/signing-secret.ts';
import { createServices, type Services } from '../../src/services.ts';
import { runStartupTasks } from '../../src/startup.ts';
import { addFixtureRoutes, checkEveryAnswer } from './contract-hook.ts';
import { adminUrl, databaseUrl, stamp, TEST_DB_PREFIX, testDatabaseUrl, testRedisUrl, testReplicaUrls } from './test-env.ts';

export interface TestDatabase {
  db: Database;
  url: string | undefined;
  replicaUrls: string[];
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Route reads to the replicas of TEST_DATABASE_REPLICA_URLS (default: when they are set). */
  replicas?: boolean;
  replicaMaxLagSeconds?: number;
  /** Fault tests: the URLs the app connects through (a fault proxy), given the real ones. */
  via?: { primary?: (url: string) => string; replica?: (url: string) => string };
  deadlines?: Partial<DatabaseDeadlines>;
  poolMax?: number;
}

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  if (!testDatabaseUrl) {
    const dump = await readFile(inject('pgliteTemplate'));
    const db = await createDatabase({ loadDataDir: new Blob([dump]) });
    return { db, url: undefined, replicaUrls: [], drop: async () => db.close() };
  }
  const name = `${TEST_DB_PREFIX}${stamp()}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await adminQuery(`create database "${name}" template "${inject('pgTemplate')}"`);
  const url = databaseUrl(testDatabaseUrl, name);
  const replicaUrls = options.replicas === false ? [] : testReplicaUrls.map((r) => databaseUrl(r, name));
  const db = await createDatabase({
    url: options.via?.primary?.(url) ?? url,
    replicaUrls: replicaUrls.map((r) => options.via?.replica?.(r) ?? r),
    poolMax: options.poolMax ?? 20,
    ...(options.deadlines ? { deadlines: options.deadlines } : {}),
    replicaMaxLagSeconds: options.replicaMaxLagSeconds ?? 5,
    replicaCheckIntervalMs: 200,
  });
  return {
    db,
    url,
    replicaUrls,
    drop: async () => {
      await db.close();
      await adminQuery(`drop database if exists "${name}" with (force)`);
    },
  };
}

async function adminQuery(text: string) {
  const client = new pg.Client({ connectionString: adminUrl(testDatabaseUrl!) });
  await client.connect();
  try {
    // Two files cloning the template at once can collide; a short retry settles it.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(text);
        return;
      } catch (error) {
        if (attempt >= 20 || !/being accessed by other users/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await client.end();
  }
}

export interface TestAppOptions extends TestDatabaseOptions {
  env?: Record<string, string>;
  /** Where log lines go (tests that read the log); silent otherwise. */
  logStream?: DestinationStream;
  /** false: run without Redis even when TEST_REDIS_URL is set. */
  redis?: boolean;
  /**
   * A node of a Redis Cluster (startPrivateRedisCluster): the app runs on it with REDIS_CLUSTER=true
   * and a hash-tagged prefix, instead of on TEST_REDIS_URL.
   */
  redisCluster?: string;
  /** Extra routes a test needs (a slow one, one that throws), added before the app is ready. */
  routes?: (app: App) => void;
}

export interface TestApp {
  app: App;
  services: Services;
  database: TestDatabase;
  /** The Redis key prefix of this app's keys, when it runs on Redis. */
  redisPrefix: string | undefined;
  /** The Redis it runs on (URL, cluster or not), when it does. */
  redisTarget: RedisTarget | undefined;
  close(): Promise<void>;
}

export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase(options);
  const target: RedisTarget | undefined = options.redisCluster
    ? { url: options.redisCluster, prefix: `{test:${randomUUID()}}:`, cluster: true }
    : options.redis !== false && testRedisUrl !== undefined
      ? { url: testRedisUrl, prefix: `test:${randomUUID()}:`, cluster: false }
      : undefined;
  return appOver(database, target, options, true);
}

interface RedisTarget {
  url: string;
  prefix: string;
  cluster: boolean;
}

/**
 * A second app instance (own pools, own writer, own in-process state) over the same database and
 * Redis prefix as `t`: what two API processes on one database look like. Real PostgreSQL only
 * (PGlite is one process's memory). `close()` leaves the shared database and keys to `t`.
 */
export async function buildPeerApp(t: TestApp, options: TestAppOptions = {}): Promise<TestApp> {
  if (!t.database.url) throw new Error('buildPeerApp needs real PostgreSQL');
  const db = await createDatabase({ url: t.database.url, replicaUrls: t.database.replicaUrls, poolMax: 20, replicaMaxLagSeconds: 5, replicaCheckIntervalMs: 200 });
  const database: TestDatabase = { db, url: t.database.url, replicaUrls: t.database.replicaUrls, drop: () => db.close() };
  // The peer verifies the owner's tokens: one secret, as JWT_SECRET would be in every process.
  return appOver(database, t.redisTarget, options, false, t.services.config.auth.jwtSecret);
}

async function appOver(database: TestDatabase, target: RedisTarget | undefined, options: TestAppOptions, owner: boolean, peerSecret?: string): Promise<TestApp> {
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: options.logStream ? 'info' : 'silent',
    SEED_DEMO_DATA: 'false',
    MIGRATE_ON_START: 'false',
    // The helpers sign up hundreds of users from one address: an allowance of their own, far above
    // the production default (a test of the limit sets its own).
    REGISTRATION_MAX_PER_HOUR: '1000000',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(target ? { REDIS_URL: target.url, REDIS_KEY_PREFIX: target.prefix, ...(target.cluster ? { REDIS_CLUSTER: 'true' } : {}) } : {}),
    ...options.env,
  };
  const loaded = loadConfig(env);
  // A secret of this app's own (never one in the repository); tests that sign tokens themselves
  // read it back from services.config. The start-up path that generates one is test/security's.
  const config = withSecret(loaded, loaded.auth.jwtSecret ?? peerSecret ?? randomBytes(32).toString('base64url'));
  const logger = createLogger(config, options.logStream);
  const redis = target ? createRedisClient(target.url, target.prefix, undefined, { cluster: target.cluster, commandTimeoutMs: config.redis.commandTimeoutMs }) : undefined;
  // A cluster client is ready once it has every master's connection: slower on a busy machine.
  if (redis) await waitForRedis(redis, target?.cluster ? 30_000 : 5000);
  const services = await createServices(config, logger, { db: database.db, ...(redis ? { redis } : {}) });
  await runStartupTasks(services);
  const app = await buildApp(services);
  const fixtures = addFixtureRoutes(app, options.routes);
  await app.ready();
  checkEveryAnswer(app, fixtures);
  return {
    app,
    services,
    database,
    redisPrefix: target?.prefix,
    redisTarget: target,
    async close() {
      await app.close();
      if (target && owner) await deleteKeysWithPrefix(target.url, target.prefix, { cluster: target.cluster });
      await services.close();
      await database.drop();
    },
  };
}
