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
