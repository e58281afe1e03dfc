/**
 * One database interface over two drivers: PGlite (PostgreSQL in WASM, the embedded default) and
 * node-postgres (a pooled connection to a real server). Same SQL, same migrations on both.
 *
 * Services say which database they want: `primary` for writes, transactions and read-your-writes;
 * `read(fn)` for read-only listings, which a replica may serve (see replicas.ts).
 */
import { PGlite } from '@electric-sql/pglite';
import { fuzzystrmatch } from '@electric-sql/pglite/contrib/fuzzystrmatch';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { unaccent } from '@electric-sql/pglite/contrib/unaccent';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import { failedDependency } from './dependencies.ts';
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
  deadlines?: Partial<DatabaseDeadlines>;
  /** Told when a pooled connection fails while idle (the database going away). */
  onConnectionError?: (error: unknown) => void;
  logger?: Logger;
}

/**
 * Every database call is bounded, so a stuck database gives a 503 in bounded time, never a hang:
 *  - statementMs: the server cancels a statement running (or waiting for a lock) longer (57014);
 *  - idleInTransactionMs: the server ends a session that holds a transaction open and idle;
 *  - connectMs: waiting for a pooled connection (pool exhausted) or for a new one to open;
 *  - queryMs: the client gives up on a reply that does not come (a lost packet, a black-holed
 *    server, a COMMIT whose answer never arrives) and closes that connection. Above statementMs,
 *    so a slow statement is cancelled by the server first and its connection stays usable.
 */
export interface DatabaseDeadlines {
  statementMs: number;
  idleInTransactionMs: number;
  connectMs: number;
  queryMs: number;
}

export const DEFAULT_DEADLINES: DatabaseDeadlines = { statementMs: 5000, idleInTransactionMs: 10_000, connectMs: 3000, queryMs: 6000 };

// PostgreSQL returns int8 (count(*), sums) as strings; our counts fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

// Catalog search needs all three (migrations/0210_catalog_search.sql creates them).
export const PGLITE_EXTENSIONS = { pg_trgm, unaccent, fuzzystrmatch };

export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url ? createPostgres(options.url, options) : createPglite(options);
}

/**
 * One connection without the request deadlines, for the maintenance scripts (`npm run migrate`,
 * `npm run seed`): a migration or a bulk load over a large catalog legitimately runs for minutes
 * (0220's postings for a million products: ~1.5 min), which the API pool's statement and reply
 * deadlines would cancel, and session settings must hold for every statement.
 */
export function createMaintenanceDatabase(options: Pick<DatabaseOptions, 'url' | 'dataDir' | 'logger'>): Promise<Database> {
  return createDatabase({ ...options, poolMax: 1, deadlines: { statementMs: 0, queryMs: 0, idleInTransactionMs: 0 } });
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
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}

/**
 * A client whose query that timed out on the client side (query_timeout) closes its connection.
 * node-postgres otherwise keeps the connection waiting for the reply and the pool hands it out
 * again, so every later query on it would time out too. The error listener is there because a
 * checked-out client's socket error is also delivered to its query; without one the emit would
 * crash the process (the pool listens only while a client is idle).
 */
class DeadlineClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }

  override query(...args: unknown[]): never {
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = (error: unknown, result: unknown) => {
        this.abandonIfTimedOut(error);
        (last as (e: unknown, r: unknown) => void)(error, result);
      };
    }
    const result = (pg.Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) result.catch((error: unknown) => this.abandonIfTimedOut(error));
    return result as never;
  }

  private abandonIfTimedOut(error: unknown) {
    if ((error as Error | undefined)?.message !== 'Query read timeout') return;
    (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  }
}

function newPool(url: string, max: number, deadlines: DatabaseDeadlines, options: DatabaseOptions): pg.Pool {
  const pool = new pg.Pool({
    Client: DeadlineClient,
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: deadlines.connectMs,
    statement_timeout: deadlines.statementMs,
    idle_in_transaction_session_timeout: deadlines.idleInTransactionMs,
    query_timeout: deadlines.queryMs,
    application_name: 'opply-commerce',
  });
  // An idle client that loses its server emits here; without a listener the process would crash.
  pool.on('error', (error) => (options.onConnectionError ? options.onConnectionError(error) : options.logger?.warn({ err: error }, 'idle database client error')));
  return pool;
}

/**
 * Transactions on a connection we check out and always give back. drizzle's own pool transaction
 * sends BEGIN before its try/finally, so a connection that fails at BEGIN (reset, server gone)
 * was never released: each such failure took one connection from the pool for good, and after
 * `poolMax` of them every request timed out waiting for one (found by test/faults). A connection
 * that failed is handed back with its error, so the pool closes it instead of reusing it.
 */
function releasingTransactions(db: Db, pool: pg.Pool): Db {
  const transaction: Db['transaction'] = async (fn, config) => {
    const client = await pool.connect();
    let failure: unknown;
    try {
      return await (drizzlePg({ client }) as unknown as Db).transaction(fn, config);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      client.release(failure !== undefined && failedDependency(failure) === 'database' ? (failure as Error) : undefined);
    }
  };
  Object.defineProperty(db, 'transaction', { value: transaction });
  return db;
}

/** The two statements of a transaction run by `inTwoTrips`. */
export interface TwoTrips {
  /** The transaction's first statement (on PostgreSQL, BEGIN travels with it); its rows. */
  first<T>(query: SQL): Promise<T[]>;
  /** Its last statement (on PostgreSQL, COMMIT travels with it); its rows. The transaction is then over. */
  last<T>(query: SQL): Promise<T[]>;
  /** The open transaction, for a statement between the two when one is needed (a round trip each). */
  readonly tx: Db;
}

/** The primaries whose transactions `inTwoTrips` folds into two round trips, with their pools. */
const pipelined = new WeakMap<Db, pg.Pool>();
const dialect = new PgDialect();

/**
 * A string as an SQL literal, exactly as node-postgres's escapeLiteral writes it (quotes doubled;
 * with a backslash, backslashes doubled too and the E'' form, which reads the same whatever
 * standard_conforming_strings says), so a value can never end its literal. Native replaces: pg's
 * own builds the string a character at a time, ~3 ms for a 26 kB batch where this takes ~7 µs.
 */
export function escapeLiteral(text: string): string {
  const quoted = text.replaceAll("'", "''");
  return text.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** A value as an SQL literal, for a simple-protocol query (which takes no parameters). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return `'${String(value)}'`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return escapeLiteral(value);
  throw new Error(`inTwoTrips: no literal for a ${typeof value} parameter`);
}

function inline(query: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return text.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
}

/**
 * A transaction of two statements, `first` and `last`, with whatever the application decides in
 * between (row locks held). On PostgreSQL it costs two round trips, not four: `BEGIN; <first>` and
 * `<last>; COMMIT` each go as one simple-protocol query (several statements, no parameters: the
 * values are inlined as escaped literals). A failure rolls back (one more round trip, only then);
 * a connection that failed is handed back with its error, so the pool closes it. As with any
 * transaction, a lost reply to the last trip leaves the outcome unknown: the caller must be able to
 * find out (the order writer fixes its ids first). On PGlite (no network) and on any other
 * executor, a plain transaction with the same two statements.
 */
export async function inTwoTrips<T>(db: Db, fn: (trips: TwoTrips) => Promise<T>): Promise<T> {
  const pool = pipelined.get(db);
  if (!pool) return db.transaction((tx) => fn({ first: (q) => queryRows(tx, q), last: (q) => queryRows(tx, q), tx }));
  const client = await pool.connect();
  let ended = false;
  let broken: Error | undefined;
  const results = async (text: string) => (await client.query(text)) as unknown as Array<{ rows: unknown[] }>;
  let tx: Db | undefined;
  try {
    const value = await fn({
      get tx() {
        return (tx ??= drizzlePg({ client }) as unknown as Db);
      },
      first: async <R>(query: SQL) => (await results(`begin; ${inline(query)}`))[1]!.rows as R[],
      last: async <R>(query: SQL) => {
        const rows = (await results(`${inline(query)}; commit`))[0]!.rows as R[];
        ended = true;
        return rows;
      },
    });
    if (!ended) throw new Error('inTwoTrips: the transaction was not ended by last()');
    return value;
  } catch (error) {
    if (failedDependency(error) === 'database') broken = error as Error;
    // A failed statement skips the COMMIT after it and leaves the transaction aborted.
    else await client.query('rollback').catch((rollbackError: unknown) => (broken = rollbackError as Error));
    throw error;
  } finally {
    client.release(broken);
  }
}

async function createPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const deadlines = { ...DEFAULT_DEADLINES, ...options.deadlines };
  const pool = newPool(url, options.poolMax ?? 20, deadlines, options);
  const primary = releasingTransactions(drizzlePg({ client: pool }) as unknown as Db, pool);
  pipelined.set(primary, pool);
  // A replica's idle errors are the router's business: its health check logs the outage once.
  const replicaOptions = { ...options, onConnectionError: () => undefined };
  const replicaPools = (options.replicaUrls ?? []).map((replicaUrl) => newPool(replicaUrl, options.poolMax ?? 20, deadlines, replicaOptions));
  const replicas = createReplicaRouter(
    primary,
    replicaPools.map((replicaPool, i) => ({
      name: `replica-${i + 1}`,
      // Replicas too: a read that needs a transaction of its own runs one there.
      db: releasingTransactions(drizzlePg({ client: replicaPool }) as unknown as Db, replicaPool),
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
