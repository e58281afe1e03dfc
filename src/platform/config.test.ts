import { describe, expect, it } from 'vitest';
import { ConfigError, FORMER_DEV_JWT_SECRET, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('gives working defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(8000);
    expect(config.database.url).toBeUndefined();
    expect(config.database.seedDemoData).toBe(true);
    expect(config.cart.ttlSeconds).toBe(1800);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('refuses REDIS_CLUSTER=true without a hash tag in REDIS_KEY_PREFIX, naming both', () => {
    const url = 'rediss://clustercfg.example.com:6379';
    expect(loadConfig({ REDIS_URL: url }).redis.cluster).toBe(false);
    expect(loadConfig({ REDIS_URL: url, REDIS_CLUSTER: 'true', REDIS_KEY_PREFIX: '{opply}:' }).redis.cluster).toBe(true);
    for (const prefix of ['', 'opply:', '{}:', '{opply:']) {
      expect(() => loadConfig({ REDIS_URL: url, REDIS_CLUSTER: 'true', REDIS_KEY_PREFIX: prefix })).toThrow(/REDIS_CLUSTER=true needs a REDIS_KEY_PREFIX with a hash tag/);
    }
  });

  it('reports every bad variable at once, by name', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', CART_TTL_SECONDS: '-1', MIGRATE_ON_START: 'maybe' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'CART_TTL_SECONDS', 'MIGRATE_ON_START']) expect(message).toContain(name);
    }
  });

  it('refuses to start in production with the default or a short secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: FORMER_DEV_JWT_SECRET })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/at least 32/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtps://mail.example.com' }).production).toBe(true);
  });

  it('refuses private webhook targets by default in production only, and reads the retry schedule', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtps://mail.example.com' };
    expect(loadConfig(production).webhooks.allowPrivateTargets).toBe(false);
    expect(loadConfig({ ...production, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }).webhooks.allowPrivateTargets).toBe(true);
    expect(loadConfig({}).webhooks.allowPrivateTargets).toBe(true);
    expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE_SECONDS: '1, 2,3' }).webhooks.retryScheduleSeconds).toEqual([1, 2, 3]);
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,soon' })).toThrow(/WEBHOOK_RETRY_SCHEDULE_SECONDS/);
  });

  it('refuses to start in production without a mail transport, and takes none in development', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) })).toThrow(/SMTP_URL must be set/);
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com' })).toThrow(/SMTP_URL/);
    expect(loadConfig({}).mail.smtpUrl).toBeUndefined();
  });

  it('takes ORDERS_MODE sync by default, and refuses async without REDIS_URL with a clear message', () => {
    expect(loadConfig({}).orders.mode).toBe('sync');
    expect(() => loadConfig({ ORDERS_MODE: 'async' })).toThrow(/ORDERS_MODE=async needs REDIS_URL/);
    expect(() => loadConfig({ ORDERS_MODE: 'later' })).toThrow(/ORDERS_MODE must be one of sync, async/);
    expect(loadConfig({ ORDERS_MODE: 'async', REDIS_URL: 'redis://127.0.0.1:6379' }).orders).toMatchObject({ mode: 'async', claimIdleMs: 15_000, reconcileSeconds: 30, maxDeliveries: 5 });
  });

  it('needs the admin username and password together', () => {
    expect(() => loadConfig({ ADMIN_USERNAME: 'root' })).toThrow(/ADMIN_USERNAME and ADMIN_PASSWORD/);
  });

  it('does not seed demo data on a real database unless asked', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/x' }).database.seedDemoData).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/x', SEED_DEMO_DATA: 'true' }).database.seedDemoData).toBe(true);
  });

  it('turns tracing on with an OTLP endpoint, and checks the sampling ratio', () => {
    expect(loadConfig({}).tracing).toEqual({ endpoint: undefined, serviceName: 'opply-commerce', sampleRatio: 1 });
    const traced = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SERVICE_NAME: 'api', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    expect(traced.tracing).toEqual({ endpoint: 'http://localhost:4318', serviceName: 'api', sampleRatio: 0.25 });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must be a URL[\s\S]*OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1/,
    );
  });
});
