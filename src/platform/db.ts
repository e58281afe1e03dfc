/**
 * One database interface over two drivers: PGlite (PostgreSQL in WASM, the embedded default) and
 * node-postgres (a pooled connection to a real server). Same SQL, same migrations on both.
 *
 * Services say which database they want: `primary` for writes, transactions and read-your-writes;
 * `read(fn)` for read-only listings, which a replica may serve (see replicas.ts).
 */
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import { isEmptyDataDir, readEmbeddedTemplate } from './embedded-template.ts';
import { createReplicaRouter, type ReadOptions, type ReplicaRouter } from './replicas.ts';

/** A drizzle executor: the database itself or an open transaction. */
export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;

export type RawClient = { kind: 'pglite'; client: PGlite } | { kind: 'postgres'; pool: pg.Pool };

export interface Database {
  readonly kind: RawClient['kind'];
  readonly primary: Db;
  /**
   * The read path for read-only listings: a healthy replica when one is configured, else the
   * primary; a replica that fails mid-read is retried on the primary.
   */
  read<T>(fn: (db: Db) => Promise<T>, options?: ReadOptions): Promise<T>;
  readonly raw: RawClient;
  readonly replicas: ReplicaRouter;
  /** Runs a multi-statement SQL script (migrations) on the primary. */
  runScript(script: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string | undefined;
  replicaUrls?: readonly string[];
  poolMax?: number;
  dataDir?: string;
  /** A dump of a migrated database to start from (tests). */
  loadDataDir?: Blob;
  replicaMaxLagSeconds?: number;
  replicaCheckIntervalMs?: number;
  logger?: Logger;
}

// PostgreSQL returns int8 (count(*), sums) as strings; our counts fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export const PGLITE_EXTENSIONS = { pg_trgm };

export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url ? createPostgres(options.url, options) : createPglite(options);
}

async function createPglite(options: DatabaseOptions): Promise<Database> {
  let loadDataDir = options.loadDataDir;
  if (!loadDataDir && options.dataDir && (await isEmptyDataDir(options.dataDir))) loadDataDir = await readEmbeddedTemplate();
  const client = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(loadDataDir ? { loadDataDir } : {}),
    extensions: PGLITE_EXTENSIONS,
    parsers: { 20: (value: string) => Number(value), 1700: (value: string) => Number(value) },
  });
  const primary = drizzlePglite({ client }) as unknown as Db;
  const replicas = createReplicaRouter(primary, [], {});
  return {
    kind: 'pglite',
    primary,
    read: (fn) => fn(primary),
    raw: { kind: 'pglite', client },
    replicas,
    runScript: async (script) => {
      await client.exec(script);
    },
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}

function newPool(url: string, max: number, logger?: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    application_name: 'opply-commerce',
  });
  // An idle client that loses its server emits here; without a listener the process would crash.
  pool.on('error', (error) => logger?.warn({ err: error }, 'idle database client error'));
  return pool;
}

async function createPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const pool = newPool(url, options.poolMax ?? 20, options.logger);
  const primary = drizzlePg({ client: pool }) as unknown as Db;
  const replicaPools = (options.replicaUrls ?? []).map((replicaUrl) => newPool(replicaUrl, options.poolMax ?? 20, options.logger));
  const replicas = createReplicaRouter(
    primary,
    replicaPools.map((replicaPool, i) => ({
      name: `replica-${i + 1}`,
      db: drizzlePg({ client: replicaPool }) as unknown as Db,
    })),
    {
      maxLagSeconds: options.replicaMaxLagSeconds ?? 5,
      checkIntervalMs: options.replicaCheckIntervalMs ?? 2000,
      logger: options.logger,
    },
  );
  await replicas.start();
  return {
    kind: 'postgres',
    primary,
    read: (fn, readOptions) => replicas.read(fn, readOptions),
    raw: { kind: 'postgres', pool },
    replicas,
    runScript: async (script) => {
      await pool.query(script);
    },
    ping: async () => {
      await pool.query('select 1');
    },
    close: async () => {
      if (pool.ended) return;
      replicas.stop();
      await Promise.all([pool.end(), ...replicaPools.map((p) => p.end())]);
    },
  };
}

/** Rows of a raw `execute`, whichever driver ran it. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

export { sql };
