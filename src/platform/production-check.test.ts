import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateRedisAvailable, startPrivateRedis, type PrivateRedis } from '../../test/helpers/private-services.ts';
import { checkProduction, checkProductionLive, type DurabilityProbe } from './production-check.ts';

/** These cases settle before any server is asked (the real probe is tested with the flash-sale wing). */
const unasked: DurabilityProbe = async () => {
  throw new Error('no Redis is asked in these cases');
};

const SAFE = {
  NODE_ENV: 'production',
  JWT_SECRET: 'k'.repeat(48),
  LOG_LEVEL: 'info',
  CORS_ORIGINS: 'https://shop.example.com',
  DATABASE_URL: 'postgres://app:pw@db.internal:5432/opply?sslmode=verify-full',
  REDIS_URL: 'rediss://:token@cache.internal:6379',
  DATABASE_POOL_MAX: '20',
  RATE_LIMIT_PER_MINUTE: '600',
  SMTP_URL: 'smtp://AKIAEXAMPLE:secret@email-smtp.eu-west-1.amazonaws.com:587?requireTLS=true',
  MAIL_FROM: 'Shop <no-reply@shop.example.com>',
  PUBLIC_URL: 'https://api.shop.example.com',
};

const failures = (env: Record<string, string>) => checkProduction(env).filter((r) => !r.ok).map((r) => r.name);

const run = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/check-production.ts'], { env: { PATH: process.env.PATH ?? '', ...env } });

describe('checkProduction', () => {
  it('passes a safe configuration', () => {
    expect(failures(SAFE)).toEqual([]);
    expect(failures({ ...SAFE, RATE_LIMIT_PER_MINUTE: '0', EDGE_RATE_LIMIT: 'aws-waf' })).toEqual([]);
  });

  it('lists every unsafe setting', () => {
    const unsafe = {
      ...SAFE,
      LOG_LEVEL: 'debug',
      CORS_ORIGINS: '*',
      DATABASE_URL: 'postgres://app:pw@db.internal:5432/opply',
      REDIS_URL: 'redis://cache.internal:6379',
      DATABASE_POOL_MAX: '500',
      SEED_DEMO_DATA: 'true',
      RATE_LIMIT_PER_MINUTE: '0',
      SMTP_URL: 'smtp://mail.internal:587',
      MAIL_FROM: '',
      PUBLIC_URL: 'http://api.shop.example.com',
    };
    expect(failures(unsafe).sort()).toEqual(
      [
        'APP_RESET_URL',
        'CORS_ORIGINS',
        'DATABASE_POOL_MAX',
        'DATABASE_URL',
        'LOG_LEVEL',
        'MAIL_FROM',
        'RATE_LIMIT_PER_MINUTE',
        'REDIS_URL',
        'SEED_DEMO_DATA',
        'SMTP_URL',
      ].sort(),
    );
    expect(failures({ ...SAFE, SMTP_URL: 'smtps://user:pw@mail.internal:465', PUBLIC_URL: '', APP_RESET_URL: 'shopapp://reset' })).toEqual([]);
  });

  it('fails on a missing secret and the embedded database', () => {
    const { JWT_SECRET: _secret, DATABASE_URL: _db, ...rest } = SAFE;
    const names = checkProduction({ ...rest, NODE_ENV: 'development' }).filter((r) => !r.ok).map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['NODE_ENV', 'JWT_SECRET', 'DATABASE_URL', 'SEED_DEMO_DATA']));
  });

  it('says that production refuses to start without a mail transport', () => {
    const { SMTP_URL: _smtp, ...rest } = SAFE;
    expect(checkProduction(rest).filter((r) => !r.ok).map((r) => r.detail)).toEqual([expect.stringMatching(/SMTP_URL must be set in production/)]);
  });

  it('reports the production refusal of the default secret as a problem, not a crash', () => {
    const results = checkProduction({ ...SAFE, JWT_SECRET: '' });
    expect(results.some((r) => !r.ok && /JWT_SECRET/.test(r.detail))).toBe(true);
  });

  it('refuses async orders without REDIS_URL and an unknown REDIS_DURABILITY', async () => {
    const { REDIS_URL: _redis, ...rest } = SAFE;
    const rows = await checkProductionLive({ ...rest, ORDERS_MODE: 'async', REDIS_DURABILITY: 'elasticache' }, unasked);
    expect(rows.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)).toEqual([
      expect.stringMatching(/^REDIS_URL: must be set/),
      expect.stringMatching(/^ORDERS_MODE: ORDERS_MODE=async needs REDIS_URL/),
      expect.stringMatching(/^REDIS_DURABILITY: REDIS_DURABILITY must be one of verify, memorydb/),
    ]);
    // Sync mode (the default) asks nothing of Redis persistence.
    expect((await checkProductionLive(SAFE, unasked)).map((r) => r.name)).not.toContain('Redis durability');
  });

  it('exits non-zero from the command line on an unsafe configuration and zero on a safe one', async () => {
    const ok = await run(SAFE);
    expect(ok.stdout).toContain('all checks passed');
    await expect(run({ ...SAFE, CORS_ORIGINS: '*' })).rejects.toMatchObject({ code: 1, stdout: expect.stringContaining('FAIL  CORS_ORIGINS') });
  });
});

describe.runIf(privateRedisAvailable)('check:production with ORDERS_MODE=async, on real Redis servers', () => {
  let always: PrivateRedis;
  let everysec: PrivateRedis;
  beforeAll(async () => {
    [always, everysec] = await Promise.all([startPrivateRedis({ appendonly: true }), startPrivateRedis({ appendonly: true, appendfsync: 'everysec' })]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([always?.stop(), everysec?.stop()]);
  });
  it('prints the refusal from the command line and exits non-zero', async () => {
    await expect(run({ ...SAFE, ORDERS_MODE: 'async', REDIS_URL: everysec.url })).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/FAIL {2}Redis durability +async orders could be lost/),
    });
    const ok = await run({ ...SAFE, ORDERS_MODE: 'async', REDIS_URL: always.url }).catch((error: { stdout: string }) => error);
    expect(ok.stdout).toMatch(/ok {4}Redis durability/);
  }, 30_000);
});
