/**
 * Health, readiness and metrics endpoints; for every request, its duration metric and one access
 * log line (method, path with query, status, duration, client address, user) carrying its request
 * id.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import { briefly } from '../dependencies.ts';
import { AppError } from '../errors.ts';
import { metrics, registry } from '../metrics.ts';
import { bearerToken } from './auth.ts';
import { problemResponse } from './docs.ts';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

const TIMEOUT_MS = 2000;
/** prom-client's exposition format; the document names it without the charset. */
const METRICS_MEDIA_TYPE = 'text/plain; version=0.0.4';

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const HealthBody = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
});

export interface MetricsAccess {
  /** The bearer token GET /metrics requires, when set. */
  token: string | undefined;
  /** Production: without a token nobody reads /metrics. */
  production: boolean;
}

/** Who may read /metrics: a scraper with the token; outside production, anyone when none is set. */
function checkMetricsAccess(access: MetricsAccess, authorization: string | undefined): void {
  if (access.token === undefined && !access.production) return;
  const sent = Buffer.from(bearerToken(authorization) ?? '');
  const expected = Buffer.from(access.token ?? '');
  if (access.token !== undefined && sent.length === expected.length && timingSafeEqual(sent, expected)) return;
  throw new AppError('not_authenticated', 'The metrics need the scraper\'s token (METRICS_TOKEN)', { headers: { 'WWW-Authenticate': 'Bearer' } });
}

export function registerOperations(app: FastifyInstance, checks: ReadinessCheck[], metricsAccess: MetricsAccess) {
  // The access line is built here from fields that cannot hold a credential, so it skips the
  // logger's redaction (which would triple its cost on every request); every other line keeps it.
  const accessLog = app.log.child({}, { redact: [] });
  // One labelled histogram per method, route and status, looked up by a string instead of
  // prom-client hashing the label object on every request (a bounded set: routes × statuses).
  const durations = new Map<string, { observe(seconds: number): void }>();
  const durationOf = (method: string, route: string, status: number) => {
    const key = `${method} ${status} ${route}`;
    let histogram = durations.get(key);
    if (!histogram) durations.set(key, (histogram = metrics.httpDuration.labels({ method, route, status })));
    return histogram;
  };
  app.addHook('onResponse', (request, reply, done) => {
    const ms = reply.elapsedTime;
    durationOf(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode).observe(ms / 1000);
    // Routes with a quieter logLevel (health, metrics) leave their line out. The request's logger
    // is a child of the pino logger the app was built with (server-options.ts).
    if ((request.log as Logger).isLevelEnabled('info')) {
      accessLog.info(
        {
          request_id: request.id,
          method: request.method,
          url: request.url,
          status: reply.statusCode,
          duration_ms: Math.round(ms * 100) / 100,
          remote_address: request.ip,
          ...(request.user ? { user_id: request.user.id } : {}),
        },
        'request completed',
      );
    }
    done();
  });

  const ops = { tags: ['operations'] };
  app.get('/health/live', { schema: { ...ops, response: { 200: HealthBody } }, config: { auth: 'public' }, logLevel: 'warn' }, async () => ({
    status: 'ok',
  }));

  const readyResponses = { 200: HealthBody, 503: problemResponse('A dependency is down; `checks` names each one') };
  app.get('/health/ready', { schema: { ...ops, response: readyResponses }, config: { auth: 'public' }, logLevel: 'warn' }, async (request) => {
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), TIMEOUT_MS);
          return [name, 'ok'] as const;
        } catch (error) {
          request.log.warn({ dependency: name, ...briefly(error) }, 'readiness check failed');
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const failed = results.filter(([, state]) => state !== 'ok').map(([name]) => name);
    if (failed.length > 0) {
      throw new AppError('unavailable', `Not ready: ${failed.join(', ')} unavailable`, { extra: { checks: Object.fromEntries(results) } });
    }
    return { status: 'ok', checks: Object.fromEntries(results) };
  });

  const metricsResponses = { 200: { description: 'Prometheus text format', content: { [METRICS_MEDIA_TYPE]: { schema: { type: 'string' } } } } };
  app.get('/metrics', { schema: { ...ops, response: metricsResponses }, config: { auth: 'public' }, logLevel: 'warn' }, async (request, reply) => {
    checkMetricsAccess(metricsAccess, request.headers.authorization);
    void reply.type(registry.contentType);
    return registry.metrics();
  });
}
