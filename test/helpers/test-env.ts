/** Where the tests' databases and Redis live: embedded by default, real ones when configured. */
export const TEST_DB_PREFIX = 'opply_t_';
export const TEMPLATE_PREFIX = 'opply_tpl_';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;
export const testRedisUrl = process.env.TEST_REDIS_URL || undefined;
export const testReplicaUrls = (process.env.TEST_DATABASE_REPLICA_URLS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

/** True when the suite runs on real PostgreSQL, where concurrency tests are evidence. */
export const onRealPostgres = testDatabaseUrl !== undefined;

export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The maintenance database of the same server, for CREATE/DROP DATABASE. */
export const adminUrl = (url: string) => databaseUrl(url, 'postgres');

/** Seconds since the epoch, in database names, so stale ones can be told apart. */
export const stamp = () => String(Math.floor(Date.now() / 1000));

/** A test database more than three hours old belongs to no run still going. */
export function isStale(name: string): boolean {
  const seconds = Number(/_(\d{10})_/.exec(name)?.[1]);
  return !Number.isFinite(seconds) || Date.now() / 1000 - seconds > 3 * 3600;
}
