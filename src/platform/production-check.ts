/**
 * The automatic part of docs/production-checklist.md: given an environment, which production
 * settings are unsafe. `npm run check:production` prints the list and fails on any problem.
 */
import { Redis } from 'ioredis';
import { ConfigError, DEV_MAIL_FROM, loadConfig } from './config.ts';
import { ASYNC_NEEDS_REDIS_URL, parseRedisDurability, RedisDurabilityError, type RedisDurabilitySetting } from './redis-durability-setting.ts';

/** What ioredis' Redis and Cluster both offer: all a durability probe sends. */
export interface RedisCommandClient {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * Asks a Redis whether it keeps every acknowledged write: flash-sale mode's rule
 * (orders/flash-sale/durability.ts), handed in by the caller — platform holds no business rules.
 */
export type DurabilityProbe = (
  client: RedisCommandClient,
  options: { setting: RedisDurabilitySetting; url: string },
) => Promise<{ durable: boolean; detail: string }>;

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

type Env = Record<string, string | undefined>;

/** ORDERS_MODE=async (flash-sale mode): accepted orders live in Redis until the worker writes them. */
const asyncOrders = (env: Env) => env.ORDERS_MODE?.trim().toLowerCase() === 'async';

/** The rows for flash-sale mode that need no server: REDIS_URL present, REDIS_DURABILITY valid. */
function ordersModeChecks(env: Env, redisUrl: string | undefined): CheckResult[] {
  if (!asyncOrders(env)) return [];
  const rows: CheckResult[] = [
    redisUrl
      ? { name: 'ORDERS_MODE', ok: true, detail: 'async: accepted orders wait in Redis until the worker writes them' }
      : { name: 'ORDERS_MODE', ok: false, detail: ASYNC_NEEDS_REDIS_URL },
  ];
  try {
    rows.push({ name: 'REDIS_DURABILITY', ok: true, detail: parseRedisDurability(env.REDIS_DURABILITY) });
  } catch (error) {
    if (!(error instanceof RedisDurabilityError)) throw error;
    rows.push({ name: 'REDIS_DURABILITY', ok: false, detail: error.message });
  }
  return rows;
}

export function checkProduction(env: Env): CheckResult[] {
  let config;
  try {
    // loadConfig refuses async mode without REDIS_URL or with a bad REDIS_DURABILITY; those two
    // get rows of their own here (ordersModeChecks), so the rest is checked as usual.
    const { ORDERS_MODE: _mode, REDIS_DURABILITY: _durability, ...rest } = env;
    config = loadConfig(rest);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((problem) => ({ name: 'configuration', ok: false, detail: problem }));
  }
  const check = (name: string, ok: boolean, good: string, bad: string): CheckResult => ({ name, ok, detail: ok ? good : bad });
  const { http, log, database, redis, auth, mail } = config;
  const smtpTls = mail.smtpUrl !== undefined && (mail.smtpUrl.startsWith('smtps://') || new URL(mail.smtpUrl).searchParams.get('requireTLS') === 'true');
  const resetBase = mail.appResetUrl ?? http.publicUrl;
  const sslmode = database.url ? new URL(database.url).searchParams.get('sslmode') : null;
  return [
    check('NODE_ENV', config.production, 'production', `must be production (is ${config.nodeEnv})`),
    check(
      'JWT_SECRET',
      auth.jwtSecret !== undefined && auth.jwtSecret.length >= 32,
      'set, 32+ characters',
      'must be set to 32+ random characters',
    ),
    check('LOG_LEVEL', !['debug', 'trace'].includes(log.level), log.level, `${log.level} logs too much for production; use info`),
    check(
      'CORS_ORIGINS',
      http.corsOrigins.length > 0 && !http.corsOrigins.includes('*'),
      http.corsOrigins.join(', '),
      http.corsOrigins.includes('*') ? 'must list exact origins, not *' : 'must be set to the allowed browser origins',
    ),
    check(
      'DATABASE_URL',
      database.url !== undefined && (sslmode === 'require' || sslmode === 'verify-full'),
      `TLS (sslmode=${sslmode})`,
      database.url ? 'must use TLS: add sslmode=require or sslmode=verify-full' : 'must be set: the embedded database is for development only',
    ),
    check(
      'REDIS_URL',
      redis.url?.startsWith('rediss://') === true,
      'TLS (rediss://)',
      redis.url ? 'must use TLS: rediss://' : 'must be set: carts, rate limits and caches must be shared by all instances',
    ),
    check(
      'DATABASE_POOL_MAX',
      database.poolMax >= 2 && database.poolMax <= 100,
      String(database.poolMax),
      `must be between 2 and 100 (is ${database.poolMax})`,
    ),
    check(
      'ADMIN_PASSWORD',
      auth.adminPassword === undefined || auth.adminPassword.length >= 12,
      auth.adminPassword ? '12+ characters' : 'unset',
      'must be at least 12 characters',
    ),
    check('SEED_DEMO_DATA', !database.seedDemoData, 'false', 'must be false: no demo catalog in production'),
    check(
      'SMTP_URL',
      smtpTls,
      'set, TLS required',
      mail.smtpUrl
        ? 'must require TLS: smtps://…:465, or smtp://…:587?requireTLS=true'
        : 'must be set: password-reset mails need a transport (on AWS, Amazon SES SMTP)',
    ),
    check('MAIL_FROM', mail.from !== DEV_MAIL_FROM, mail.from, 'must be set to a sender address the mail service may send from (an SES identity)'),
    check(
      'APP_RESET_URL',
      resetBase !== undefined && !resetBase.startsWith('http://'),
      `reset links to ${resetBase ?? ''}`,
      resetBase ? 'reset links must not use plain http://' : 'APP_RESET_URL or PUBLIC_URL must be set: reset links would point at localhost',
    ),
    check(
      'RATE_LIMIT_PER_MINUTE',
      http.rateLimitPerMinute > 0 || http.edgeRateLimit !== undefined,
      http.rateLimitPerMinute > 0 ? `${http.rateLimitPerMinute}/min per address` : `at the edge: ${http.edgeRateLimit}`,
      'must be > 0, or EDGE_RATE_LIMIT must name the edge rate limit (e.g. aws-waf)',
    ),
    ...ordersModeChecks(env, redis.url),
  ];
}

/** A short-lived connection for one question: no retries, no waiting for a Redis that is down. */
export async function connectOnce(url: string): Promise<RedisCommandClient & { disconnect(): void }> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 3000, commandTimeout: 3000 });
  client.on('error', () => undefined);
  await client.connect().catch(() => undefined);
  return client;
}

/**
 * checkProduction plus what only the servers can tell: with ORDERS_MODE=async, whether the Redis
 * at REDIS_URL persists every acknowledged write (`probe`: flash-sale mode's durability rule).
 * `npm run check:production`.
 */
export async function checkProductionLive(env: Env, probe: DurabilityProbe, connect = connectOnce): Promise<CheckResult[]> {
  const results = checkProduction(env);
  const url = env.REDIS_URL?.trim();
  const settingOk = results.find((r) => r.name === 'REDIS_DURABILITY')?.ok === true;
  if (!asyncOrders(env) || !url || !settingOk) return results;
  const client = await connect(url);
  try {
    const { durable, detail } = await probe(client, { setting: parseRedisDurability(env.REDIS_DURABILITY), url });
    results.push({ name: 'Redis durability', ok: durable, detail: durable ? detail : `async orders could be lost: ${detail}` });
  } finally {
    client.disconnect();
  }
  return results;
}
