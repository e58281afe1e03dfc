/**
 * The only place that reads the environment. `loadConfig(env)` is pure: it reports every bad
 * variable at once and returns a frozen, nested object.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { ASYNC_NEEDS_REDIS_URL, parseRedisDurability, RedisDurabilityError } from './redis-durability.ts';
import { MAX_UNITS_PER_LINE, MAX_UNITS_PER_ORDER } from './money.ts';

export const DEV_JWT_SECRET = 'dev-only-insecure-secret-change-me-please-0000';

export const DEV_MAIL_FROM = 'opply-commerce <no-reply@localhost>';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A hash tag in the prefix (Redis: the text between the first `{` and the next `}`, when not
 * empty): every prefixed key then maps to that tag's slot.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
}

/**
 * REDIS_CLUSTER=true: every key must share the prefix's hash slot (the hold scripts and MGETs name
 * several keys; a cluster refuses keys of different slots with CROSSSLOT), so the prefix needs a
 * hash tag.
 */
function redisCluster(r: ReturnType<typeof reader>): boolean {
  const cluster = r.bool('REDIS_CLUSTER', false);
  const prefix = r.str('REDIS_KEY_PREFIX', '');
  if (cluster && !hasHashTag(prefix)) {
    r.problems.push(
      `REDIS_CLUSTER=true needs a REDIS_KEY_PREFIX with a hash tag, e.g. "{opply}:" (is "${prefix}"): the app's multi-key scripts need every key in one hash slot`,
    );
  }
  return cluster;
}

/** Collects problems instead of throwing at the first one. */
function reader(env: Env) {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const str = (name: string, fallback: string): string => raw(name) ?? fallback;
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${value}")`);
      return fallback;
    }
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const value = raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    problems.push(`${name} must be true or false (got "${value}")`);
    return fallback;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const value = raw(name);
    if (value === undefined) return undefined;
    if (!isUrl(value, protocols)) {
      problems.push(`${name} must be a URL starting with ${protocols.join(' or ')}`);
      return undefined;
    }
    return value;
  };
  const urlList = (name: string, protocols: string[]): string[] => {
    const value = raw(name);
    if (value === undefined) return [];
    const list = value.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = list.filter((u) => !isUrl(u, protocols));
    if (bad.length > 0) problems.push(`${name} must be comma-separated URLs starting with ${protocols.join(' or ')}`);
    return list.filter((u) => isUrl(u, protocols));
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
      return fallback;
    }
    return value as T;
  };
  const ratio = (name: string, fallback: number): number => {
    const value = raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      problems.push(`${name} must be a number between 0 and 1 (got "${value}")`);
      return fallback;
    }
    return n;
  };
  return { problems, raw, str, int, bool, url, urlList, oneOf, ratio };
}

/**
 * Which proxies in front of the service may name the client in `X-Forwarded-For`. Trusting the
 * whole chain (`true`) lets the client choose its own address: an AWS load balancer forwards the
 * header's first entries as the client sent them and appends the address it saw, so only the
 * entries the trusted hops appended are facts. `false` (default): the socket's address; a hop
 * count: that many proxies in front (an ALB is 1); a list: the proxies' addresses or CIDRs.
 * `true` is refused in production; elsewhere it stays for a local chain of proxies one controls.
 */
export type TrustProxy = boolean | number | string[];

/** proxy-addr's names for address ranges, accepted in a TRUST_PROXY list. */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function isAddressOrCidr(entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^[0-9]{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

function trustProxy(r: ReturnType<typeof reader>, production: boolean): TrustProxy {
  const value = r.raw('TRUST_PROXY');
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (['false', 'no', 'off', '0'].includes(lower)) return false;
  if (['true', 'yes', 'on'].includes(lower)) {
    if (production) {
      r.problems.push(
        'TRUST_PROXY=true is refused in production: it trusts every X-Forwarded-For entry, so a client chooses its own address (rate limits, login throttle). Set the number of proxies in front (an AWS ALB: TRUST_PROXY=1) or their addresses/CIDRs',
      );
    }
    return true;
  }
  if (/^[0-9]+$/.test(value)) {
    const hops = Number(value);
    if (hops > 10) r.problems.push(`TRUST_PROXY as a hop count must be between 0 and 10 (got "${value}")`);
    return Math.min(hops, 10);
  }
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((entry) => !isAddressOrCidr(entry));
  if (bad.length > 0 || list.length === 0) {
    r.problems.push(`TRUST_PROXY must be false, a hop count (e.g. 1 behind an AWS ALB) or comma-separated addresses/CIDRs of the proxies (not valid: "${bad.join('", "')}")`);
    return false;
  }
  return list;
}

function metricsToken(r: ReturnType<typeof reader>): string | undefined {
  const token = r.raw('METRICS_TOKEN');
  if (token !== undefined && !/^[A-Za-z0-9\-._~+/]{16,}=*$/.test(token)) {
    r.problems.push('METRICS_TOKEN must be at least 16 characters of a bearer token (letters, digits, -._~+/)');
  }
  return token;
}

function isUrl(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

export function loadConfig(env: Env = {}) {
  const r = reader(env);
  const nodeEnv = r.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const production = nodeEnv === 'production';
  const databaseUrl = r.url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const jwtSecret = r.raw('JWT_SECRET') ?? DEV_JWT_SECRET;
  const adminUsername = r.raw('ADMIN_USERNAME');
  const adminPassword = r.raw('ADMIN_PASSWORD');

  if (production) {
    if (jwtSecret === DEV_JWT_SECRET) r.problems.push('JWT_SECRET must be set in production (the development default is refused)');
    else if (jwtSecret.length < 32) r.problems.push('JWT_SECRET must be at least 32 characters in production');
  }
  if ((adminUsername === undefined) !== (adminPassword === undefined)) {
    r.problems.push('ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  }
  const smtpUrl = r.url('SMTP_URL', ['smtp:', 'smtps:']);
  // Without a transport, development writes mails to the log; production would silently send
  // nothing (no password resets), so it refuses to start instead.
  if (production && r.raw('SMTP_URL') === undefined) {
    r.problems.push('SMTP_URL must be set in production (mails such as password resets need a transport)');
  }
  const ordersMode = r.oneOf('ORDERS_MODE', ['sync', 'async'] as const, 'sync');
  // The stream of accepted orders and the stock mirror that admits them live in Redis only.
  if (ordersMode === 'async' && r.raw('REDIS_URL') === undefined) {
    r.problems.push(ASYNC_NEEDS_REDIS_URL);
  }
  let redisDurability: ReturnType<typeof parseRedisDurability> = 'verify';
  try {
    redisDurability = parseRedisDurability(r.raw('REDIS_DURABILITY'));
  } catch (error) {
    if (!(error instanceof RedisDurabilityError)) throw error;
    r.problems.push(error.message);
  }
  const appResetUrl = r.raw('APP_RESET_URL');
  if (appResetUrl !== undefined && !URL.canParse(appResetUrl)) r.problems.push('APP_RESET_URL must be a URL (https://… or an app scheme such as myapp://reset)');
  if (production && adminPassword !== undefined && adminPassword.length < 12) {
    r.problems.push('ADMIN_PASSWORD must be at least 12 characters in production');
  }

  const webhookSchedule = retrySchedule(r, 'WEBHOOK_RETRY_SCHEDULE_SECONDS', DEFAULT_WEBHOOK_RETRY_SCHEDULE);
  const loginMaxFailures = r.int('LOGIN_MAX_FAILURES', 5, 1, 1000);
  const config = {
    nodeEnv,
    production,
    http: {
      port: r.int('PORT', 8000, 0, 65535),
      // Outside production only this machine reaches a default server: a development server on a
      // shared network was an open door (the image, compose and the AWS stack set HOST=0.0.0.0).
      host: r.str('HOST', production ? '0.0.0.0' : '127.0.0.1'),
      bodyLimitBytes: r.int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
      corsOrigins: (r.raw('CORS_ORIGINS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      trustProxy: trustProxy(r, production),
      rateLimitPerMinute: r.int('RATE_LIMIT_PER_MINUTE', 0, 0, 1_000_000),
      /** Where requests are rate limited instead, when not here (e.g. "aws-waf"); read by check:production. */
      edgeRateLimit: r.raw('EDGE_RATE_LIMIT'),
      shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 25_000, 0, 600_000),
      /** After SIGTERM, how long to keep listening with every answer closing its connection. */
      shutdownDrainMs: r.int('SHUTDOWN_DRAIN_MS', 1000, 0, 60_000),
      /**
       * GET /metrics requires `Authorization: Bearer <this>` when set; in production it is then the
       * only way in (unset: /metrics answers 401 to everyone), elsewhere unset leaves it open.
       */
      metricsToken: metricsToken(r),
      /** Public base URL used in `next`/`previous` links; derived from the request when unset. */
      publicUrl: r.url('PUBLIC_URL', ['http:', 'https:']),
      /** JSON answers at least this long are sent br- or gzip-coded to clients that accept it. */
      compressMinBytes: r.int('COMPRESSION_MIN_BYTES', 1024, 0, 100 * 1024 * 1024),
    },
    log: {
      level: r.oneOf<LogLevel>('LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'silent' : 'info'),
      /** `auto`: readable lines on a terminal outside production, JSON otherwise (logger.ts). */
      format: r.oneOf('LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto'),
    },
    database: {
      url: databaseUrl,
      replicaUrls: r.urlList('DATABASE_REPLICA_URLS', ['postgres:', 'postgresql:']),
      poolMax: r.int('DATABASE_POOL_MAX', 20, 1, 1000),
      replicaMaxLagSeconds: r.int('REPLICA_MAX_LAG_SECONDS', 5, 0, 3600),
      replicaCheckIntervalMs: r.int('REPLICA_CHECK_INTERVAL_MS', 2000, 100, 600_000),
      /** Request deadlines (db.ts DatabaseDeadlines): a stuck database answers 503 in bounded time. */
      deadlines: databaseDeadlines(r),
      dataDir: path.resolve(r.str('DATA_DIR', './data')),
      migrateOnStart: r.bool('MIGRATE_ON_START', true),
      seedDemoData: r.bool('SEED_DEMO_DATA', databaseUrl === undefined),
    },
    redis: {
      url: r.url('REDIS_URL', ['redis:', 'rediss:']),
      keyPrefix: r.str('REDIS_KEY_PREFIX', ''),
      /** A command without an answer in this time fails (a paused or stuck Redis → 503, not a hang). */
      commandTimeoutMs: r.int('REDIS_COMMAND_TIMEOUT_MS', 1000, 10, 60_000),
      /** A cluster client (MemoryDB, cluster-mode Redis) seeded from REDIS_URL; needs a `{tag}` prefix. */
      cluster: redisCluster(r),
      /** How async mode tells that this Redis persists every write (redis-durability.ts). */
      durability: redisDurability,
    },
    auth: {
      jwtSecret,
      jwtIssuer: r.str('JWT_ISSUER', 'opply-commerce'),
      jwtAudience: r.str('JWT_AUDIENCE', 'opply-commerce-api'),
      accessTokenTtlSeconds: r.int('ACCESS_TOKEN_TTL_SECONDS', 300, 10, 86_400),
      refreshTokenTtlSeconds: r.int('REFRESH_TOKEN_TTL_SECONDS', 14 * 86_400, 60, 365 * 86_400),
      loginMaxFailures,
      /** Failed logins from one client address, whatever the usernames, before it is held back. */
      loginMaxFailuresPerAddress: r.int('LOGIN_MAX_FAILURES_PER_ADDRESS', loginMaxFailures, 1, 100_000),
      loginWindowSeconds: r.int('LOGIN_WINDOW_SECONDS', 900, 1, 86_400),
      /** Attempts to sign up or change an email (each tells whether an email is taken) per client address per hour. */
      registrationMaxPerHour: r.int('REGISTRATION_MAX_PER_HOUR', 10, 1, 10_000_000),
      adminUsername,
      adminPassword,
    },
    catalog: {
      cacheTtlSeconds: r.int('CATALOG_CACHE_TTL_SECONDS', 300, 1, 86_400),
      /** Carts and orders trust the hold store's stock mirror this long after it was last confirmed. */
      mirrorMaxAgeSeconds: r.int('STOCK_MIRROR_MAX_AGE_SECONDS', 30, 0, 3600),
      /** The staff low-stock line: a live product with this many units or fewer is low (the console's list, `inventory.low_stock`). */
      lowStockLine: r.int('LOW_STOCK_LINE', 10, 0, 1_000_000_000),
      /** Guest browsing: product lists and details, suggestions and categories without a token. */
      public: r.bool('CATALOG_PUBLIC', false),
      /** Requests per client address per minute a guest (no token) may make to those routes. */
      guestPerMinute: r.int('CATALOG_GUEST_PER_MINUTE', 300, 1, 1_000_000),
    },
    cart: {
      ttlSeconds: r.int('CART_TTL_SECONDS', 1800, 1, 7 * 86_400),
      /** A cart's holds end this long after its first line was put, however often it changes since. */
      holdMaxSeconds: r.int('CART_HOLD_MAX_SECONDS', 3600, 1, 7 * 86_400),
      // Also the per-line cap of direct orders. The ceilings keep every total within ten integer
      // digits (platform/money.ts).
      maxUnitsPerLine: r.int('CART_MAX_UNITS_PER_LINE', 20, 1, MAX_UNITS_PER_LINE),
      maxUnitsPerCart: r.int('CART_MAX_UNITS', 100, 1, MAX_UNITS_PER_ORDER),
    },
    /** Background jobs in the API process: the default when there is no Redis (one process). */
    jobs: { runInApi: r.bool('RUN_JOBS_IN_API', r.raw('REDIS_URL') === undefined) },
    /**
     * OpenTelemetry traces, exported over OTLP (http/protobuf) to this base URL; off when unset
     * (no SDK is loaded then). New traces are kept at `sampleRatio`; a request whose caller sent a
     * sampled `traceparent` is always kept (parent-based).
     */
    tracing: {
      endpoint: r.url('OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']),
      serviceName: r.str('OTEL_SERVICE_NAME', 'opply-commerce'),
      sampleRatio: r.ratio('OTEL_TRACES_SAMPLER_ARG', 1),
    },
    mail: {
      smtpUrl,
      from: r.str('MAIL_FROM', DEV_MAIL_FROM),
      /** Base of the link in reset mails (the token goes in its fragment); PUBLIC_URL/reset-password when unset. */
      appResetUrl,
    },
    passwordReset: {
      maxPerEmail: r.int('PASSWORD_RESET_MAX_PER_EMAIL', 3, 1, 1000),
      maxPerAddress: r.int('PASSWORD_RESET_MAX_PER_ADDRESS', 20, 1, 100_000),
      windowSeconds: r.int('PASSWORD_RESET_WINDOW_SECONDS', 3600, 1, 86_400),
      /** Every answer of POST password-reset/ takes at least this long, account or not. */
      minResponseMs: r.int('PASSWORD_RESET_MIN_RESPONSE_MS', 250, 0, 10_000),
    },
    webhooks: {
      /** Targets on loopback, private, link-local or metadata addresses: refused in production unless set. */
      allowPrivateTargets: r.bool('WEBHOOK_ALLOW_PRIVATE_TARGETS', !production),
      /** Seconds before each retry of a failed delivery (±20 % jitter); after the last, the delivery fails for good. */
      retryScheduleSeconds: webhookSchedule,
      /** A subscription whose deliveries have failed this long without a success, or this many times in a row, is disabled. */
      disableAfterSeconds: r.int('WEBHOOK_DISABLE_AFTER_SECONDS', 86_400, 0, 30 * 86_400),
      disableAfterFailures: r.int('WEBHOOK_DISABLE_AFTER_FAILURES', 100, 1, 100_000),
      /** A receiver's whole answer (connect to last byte) must come within this. */
      timeoutMs: r.int('WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
      /** Requests in flight to one subscription, per worker. */
      concurrency: r.int('WEBHOOK_CONCURRENCY', 4, 1, 100),
    },
    orders: {
      idempotencyTtlHours: r.int('IDEMPOTENCY_TTL_HOURS', 24, 24, 24 * 30),
      /** Most orders the batching writer puts in one transaction. */
      batchMax: r.int('ORDERS_BATCH_MAX', 200, 1, 10_000),
      /** Longest an order may wait for its batch before it is answered 503. */
      queueTimeoutMs: r.int('ORDERS_QUEUE_TIMEOUT_MS', 5000, 10, 600_000),
      /** sync: written before the answer (201); async: admitted by Redis, answered 202, written by the worker. */
      mode: ordersMode,
      /** Async mode: a consumer's unacknowledged orders are claimed by another after this long idle. */
      claimIdleMs: r.int('ORDERS_ASYNC_CLAIM_IDLE_MS', 15_000, 100, 3_600_000),
      /** Async mode: how often the reconciler recomputes the stock mirrors from PostgreSQL. */
      reconcileSeconds: r.int('ORDERS_ASYNC_RECONCILE_SECONDS', 30, 1, 86_400),
      /** Async mode: an accepted order refused non-transiently on this delivery or later is settled (cancelled or dead-lettered). */
      maxDeliveries: r.int('ORDERS_ASYNC_MAX_DELIVERIES', 5, 1, 1000),
    },
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

/** About a day in all: early steps short, so a receiver back from a short outage gets its events within seconds. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 36_000];

function retrySchedule(r: ReturnType<typeof reader>, name: string, fallback: number[]): number[] {
  const value = r.raw(name);
  if (value === undefined) return fallback;
  const steps = value.split(',').map((s) => Number(s.trim()));
  if (steps.length === 0 || steps.some((n) => !Number.isFinite(n) || n <= 0 || n > 7 * 86_400)) {
    r.problems.push(`${name} must be a comma-separated list of seconds, each above 0 and at most 604800 (got "${value}")`);
    return fallback;
  }
  return steps;
}

function databaseDeadlines(r: ReturnType<typeof reader>) {
  const statementMs = r.int('DATABASE_STATEMENT_TIMEOUT_MS', 5000, 100, 3_600_000);
  const queryMs = r.int('DATABASE_QUERY_TIMEOUT_MS', statementMs + 1000, 100, 3_700_000);
  if (queryMs <= statementMs) r.problems.push('DATABASE_QUERY_TIMEOUT_MS must be above DATABASE_STATEMENT_TIMEOUT_MS (the server cancels first)');
  return {
    statementMs,
    queryMs,
    idleInTransactionMs: r.int('DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', 10_000, 100, 3_600_000),
    connectMs: r.int('DATABASE_CONNECT_TIMEOUT_MS', 3000, 100, 600_000),
  };
}

export type Config = ReturnType<typeof loadConfig>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
