/**
 * Every knob of the stack, read once from CDK context (`cdk deploy -c imageTag=abc123 -c ...`).
 * Defaults describe the "small" setup of docs/deploy-aws.md; the "large" one is a set of
 * context values, not a different stack.
 */
import type { Node } from 'constructs';

export interface Settings {
  /** ECR repository holding the application image (created by the registry stack). */
  repositoryName: string;
  /** Image tag to run; every deploy should pass a new immutable tag (the git sha). */
  imageTag: string;
  /** ACM certificate for the HTTPS listener; without one the ALB serves plain HTTP on 80. */
  certificateArn?: string;
  /** Comma-separated browser origins allowed by CORS (never `*` in production). */
  corsOrigins?: string;
  /** Public base URL of the API, used in pagination links. */
  publicUrl?: string;
  /**
   * Amazon SES identity mails are sent as: a domain (`shop.example.com`, verified by the DKIM
   * records SES shows) or one address. The stack creates it; without one, an identity verified
   * by hand must exist.
   */
  sesIdentity?: string;
  /** MAIL_FROM; defaults to no-reply@<sesIdentity> for a domain identity, or the address itself. */
  mailFrom?: string;
  /** Name of the Secrets Manager secret holding SMTP_URL (SES SMTP credentials), made before the first deploy. */
  smtpSecretName: string;
  /** APP_RESET_URL: an app deep-link base for reset links; PUBLIC_URL/reset-password when unset. */
  appResetUrl?: string;
  /** E-mail address subscribed to the alarm topic. */
  alarmEmail?: string;
  natGateways: number;
  api: { cpu: number; memoryMiB: number; minTasks: number; maxTasks: number };
  worker: { cpu: number; memoryMiB: number; minTasks: number; maxTasks: number };
  /** Per process; keep minTasks.. maxTasks x pool well under the database's max_connections. */
  databasePoolMax: number;
  dbInstanceClass: string;
  dbBackupRetentionDays: number;
  deletionProtection: boolean;
  redisNodeType: string;
  /**
   * `sync` (default): orders are written to PostgreSQL in the request; Redis is ElastiCache.
   * `async`: flash-sale mode (ORDERS_MODE=async): accepted orders live in Redis until the worker
   * writes them, so Redis must keep every acknowledged write. The app's Redis is then Amazon
   * MemoryDB (a multi-AZ transaction log) instead of ElastiCache.
   */
  ordersMode: 'sync' | 'async';
  /** MemoryDB node type (ordersMode=async). */
  memorydbNodeType: string;
  /** MemoryDB replicas per shard (ordersMode=async), each in another availability zone when possible. */
  memorydbReplicas: number;
  logRetentionDays: number;
  rateLimitPerMinute: number;
  /** Scale out when one api task receives more requests than this per minute. */
  requestsPerTargetPerMinute: number;
  /** Alarm when the writer has more connections than this. */
  dbConnectionsAlarm: number;
  /**
   * Traces to AWS X-Ray: each api task gets an ADOT collector sidecar, and the app exports to it
   * over OTLP (off by default).
   */
  xrayTracing: boolean;
  /** Share of new traces kept (the app's OTEL_TRACES_SAMPLER_ARG), in [0, 1]. */
  traceSampleRatio: number;
  /** The collector image, pinned: bump it deliberately. */
  adotCollectorImage: string;
}

export const DEFAULTS: Settings = {
  repositoryName: 'opply-commerce',
  imageTag: 'latest',
  smtpSecretName: 'opply-commerce/smtp-url',
  natGateways: 1,
  api: { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 6 },
  worker: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 3 },
  databasePoolMax: 10,
  dbInstanceClass: 't4g.medium',
  dbBackupRetentionDays: 7,
  deletionProtection: true,
  redisNodeType: 'cache.t4g.small',
  ordersMode: 'sync',
  memorydbNodeType: 'db.t4g.small',
  memorydbReplicas: 1,
  logRetentionDays: 30,
  rateLimitPerMinute: 600,
  requestsPerTargetPerMinute: 3000,
  dbConnectionsAlarm: 300,
  xrayTracing: false,
  traceSampleRatio: 0.05,
  adotCollectorImage: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0',
};

/** Reads the settings from context; values given on the command line arrive as strings. */
export function settingsFromContext(node: Node): Settings {
  const str = (key: string): string | undefined => {
    const value = node.tryGetContext(key);
    return value === undefined || value === null || String(value).trim() === '' ? undefined : String(value).trim();
  };
  const num = (key: string, fallback: number, min: number, max: number): number => {
    const value = str(key);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`context ${key} must be an integer in [${min}, ${max}], got "${value}"`);
    return n;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const value = str(key)?.toLowerCase();
    if (value === undefined) return fallback;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new Error(`context ${key} must be true or false, got "${value}"`);
  };
  const ratio = (key: string, fallback: number): number => {
    const value = str(key);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`context ${key} must be a number in [0, 1], got "${value}"`);
    return n;
  };
  const oneOf = <T extends string>(key: string, fallback: T, allowed: readonly T[]): T => {
    const value = str(key)?.toLowerCase();
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw new Error(`context ${key} must be one of ${allowed.join(', ')}, got "${value}"`);
  };
  const d = DEFAULTS;
  return {
    repositoryName: str('repositoryName') ?? d.repositoryName,
    imageTag: str('imageTag') ?? d.imageTag,
    certificateArn: str('certificateArn'),
    corsOrigins: str('corsOrigins'),
    publicUrl: str('publicUrl'),
    sesIdentity: str('sesIdentity'),
    mailFrom: str('mailFrom'),
    smtpSecretName: str('smtpSecretName') ?? d.smtpSecretName,
    appResetUrl: str('appResetUrl'),
    alarmEmail: str('alarmEmail'),
    natGateways: num('natGateways', d.natGateways, 1, 2),
    api: {
      cpu: num('apiCpu', d.api.cpu, 256, 16384),
      memoryMiB: num('apiMemory', d.api.memoryMiB, 512, 122880),
      minTasks: num('apiMinTasks', d.api.minTasks, 1, 100),
      maxTasks: num('apiMaxTasks', d.api.maxTasks, 1, 200),
    },
    worker: {
      cpu: num('workerCpu', d.worker.cpu, 256, 16384),
      memoryMiB: num('workerMemory', d.worker.memoryMiB, 512, 122880),
      minTasks: num('workerMinTasks', d.worker.minTasks, 1, 100),
      maxTasks: num('workerMaxTasks', d.worker.maxTasks, 1, 100),
    },
    databasePoolMax: num('databasePoolMax', d.databasePoolMax, 2, 100),
    dbInstanceClass: str('dbInstanceClass') ?? d.dbInstanceClass,
    dbBackupRetentionDays: num('dbBackupRetentionDays', d.dbBackupRetentionDays, 7, 35),
    deletionProtection: bool('deletionProtection', d.deletionProtection),
    redisNodeType: str('redisNodeType') ?? d.redisNodeType,
    ordersMode: oneOf('ordersMode', d.ordersMode, ['sync', 'async'] as const),
    memorydbNodeType: str('memorydbNodeType') ?? d.memorydbNodeType,
    memorydbReplicas: num('memorydbReplicas', d.memorydbReplicas, 1, 5),
    logRetentionDays: num('logRetentionDays', d.logRetentionDays, 1, 3653),
    rateLimitPerMinute: num('rateLimitPerMinute', d.rateLimitPerMinute, 0, 1_000_000),
    requestsPerTargetPerMinute: num('requestsPerTargetPerMinute', d.requestsPerTargetPerMinute, 10, 1_000_000),
    dbConnectionsAlarm: num('dbConnectionsAlarm', d.dbConnectionsAlarm, 10, 100_000),
    xrayTracing: bool('xrayTracing', d.xrayTracing),
    traceSampleRatio: ratio('traceSampleRatio', d.traceSampleRatio),
    adotCollectorImage: str('adotCollectorImage') ?? d.adotCollectorImage,
  };
}
