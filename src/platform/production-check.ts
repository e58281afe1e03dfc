/**
 * The automatic part of docs/production-checklist.md: given an environment, which production
 * settings are unsafe. `npm run check:production` prints the list and fails on any problem.
 */
import { ConfigError, DEV_JWT_SECRET, DEV_MAIL_FROM, loadConfig } from './config.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

type Env = Record<string, string | undefined>;

export function checkProduction(env: Env): CheckResult[] {
  let config;
  try {
    config = loadConfig(env);
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
      auth.jwtSecret !== DEV_JWT_SECRET && auth.jwtSecret.length >= 32,
      'set, 32+ characters',
      'must be set to 32+ random characters, not the development default',
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
  ];
}
