/**
 * The one place errors become HTTP answers: every error is application/problem+json (RFC 9457)
 * with a stable `code` and the request id; a fault is a 500 that says nothing about its cause.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { briefly, failedDependency, type DependencyMonitor } from '../dependencies.ts';
import { AppError, PROBLEMS, type FieldError, type ProblemCode } from '../errors.ts';

const PROBLEM_BASE = 'https://opply-commerce.dev/problems/';

export function problemBody(error: AppError, requestId: string) {
  return {
    type: PROBLEM_BASE + error.code.replaceAll('_', '-'),
    title: PROBLEMS[error.code].title,
    status: error.status,
    detail: error.detail ?? PROBLEMS[error.code].title,
    code: error.code,
    request_id: requestId,
    ...(error.errors ? { errors: error.errors } : {}),
    ...error.extra,
  };
}

/** API.md: a 503 always says when to try again; a dependency outage is usually seconds. */
const RETRY_AFTER_SECONDS = '1';

export function sendProblem(reply: FastifyReply, error: AppError) {
  if (error.headers) void reply.headers(error.headers);
  if (error.status === 503 && !reply.hasHeader('retry-after')) void reply.header('retry-after', RETRY_AFTER_SECONDS);
  return reply.code(error.status).type('application/problem+json').send(JSON.stringify(problemBody(error, reply.request.id)));
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function fieldErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'body';
  return (error.validation as ValidationIssue[] | undefined ?? []).map((issue) => {
    const missing = issue.params?.['requiredProperties'] ?? issue.params?.['missingProperty'];
    const extra = Array.isArray(missing) ? String(missing[0]) : (missing as string | undefined);
    const path = [issue.instancePath?.replace(/^\//, ''), extra].filter(Boolean).join('/');
    return { field: path || context, message: issue.message ?? 'is invalid' };
  });
}

const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
};

/** Maps whatever was thrown to an AppError; unknown errors become internal_error. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as FastifyError;
  if (e?.validation) {
    const errors = fieldErrors(e);
    // One fault: the detail names it, so a client that shows only the detail says what to change.
    const detail = errors.length === 1 ? `${errors[0]!.field} ${errors[0]!.message}` : 'The request is not valid';
    return new AppError('validation_failed', detail, { errors });
  }
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new AppError(mapped, mapped === 'validation_failed' ? 'The body is not valid JSON' : e.message);
  const dependency = failedDependency(error);
  if (dependency) {
    return new AppError('unavailable', 'A service this request needs is unavailable or did not answer in time; try again shortly', { dependency, cause: error });
  }
  if (e instanceof SyntaxError && e.statusCode === 400) return new AppError('validation_failed', 'The body is not valid JSON');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const byStatus = (Object.keys(PROBLEMS) as ProblemCode[]).find((c) => PROBLEMS[c].status === e.statusCode);
    return new AppError(byStatus ?? 'validation_failed', e.message);
  }
  return new AppError('internal_error', 'An unexpected error occurred; quote the request id when reporting it', { cause: error });
}

/**
 * A missing dependency is not a fault of ours: one warn line without a stack per refused request,
 * the outage itself logged once by the monitor (see dependencies.ts).
 */
function noteUnavailable(request: FastifyRequest, error: AppError, monitor: DependencyMonitor | undefined) {
  const dependency = error.dependency ?? failedDependency(error.cause);
  if (dependency) {
    monitor?.failed(dependency, error.cause ?? error);
    monitor?.refused(dependency);
  }
  const cause = error.cause === undefined ? {} : briefly(error.cause);
  request.log.warn({ code: error.code, status: error.status, dependency, ...cause }, error.detail ?? error.code);
}

export function registerProblemHandlers(app: FastifyInstance, monitor?: DependencyMonitor) {
  app.setErrorHandler((error, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.code === 'unavailable') noteUnavailable(request, appError, monitor);
    else if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, status: appError.status }, appError.detail ?? appError.code);
    return sendProblem(reply, appError);
  });
  const allowedMethods = registerRouteIndex(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allow = allowedMethods(path);
    // A path that exists answers another method with 405 and the methods it has (RFC 9110 §15.5.6).
    if (allow.length > 0 && !allow.includes(request.method)) {
      return sendProblem(reply, new AppError('method_not_allowed', `${request.method} is not allowed on ${path}`, { headers: { Allow: allow.join(', ') } }));
    }
    return sendProblem(reply, new AppError('not_found', `No route for ${request.method} ${path}`));
  });
}

/** A route's path as a pattern: `:name` is one segment, `*` the rest; a trailing slash optional. */
function routePattern(url: string): RegExp {
  const body = url
    .replace(/\/+$/, '')
    .split('/')
    .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}/?$`);
}

/**
 * Every route's method by its path pattern, collected as routes are added (registered before
 * them), so a request no route matched can tell "no such path" (404) from "not this method" (405).
 */
function registerRouteIndex(app: FastifyInstance): (path: string) => string[] {
  const routes: Array<{ methods: string[]; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    // A catch-all (the CORS plugin's `OPTIONS *`) says nothing about which paths exist.
    if (route.url === '*' || route.url === '/*') return;
    routes.push({ methods: [route.method].flat(), pattern: routePattern(route.url) });
  });
  return (path) => {
    const methods = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}

/**
 * Answers the router gives before any route or hook runs (a path parameter over maxParamLength:
 * 414; a malformed URL: 400): the same problem+json, with the request id, as every other answer.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  request.log.info({ code: error.code }, error.message);
  void reply.header('x-request-id', request.id);
  return sendProblem(reply, toAppError(error));
}

const CLIENT_ERRORS: Record<string, { status: number; code: ProblemCode; detail: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'validation_failed', detail: 'The request took too long to arrive' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'validation_failed', detail: 'The request headers are too large' },
};

/**
 * What Node's HTTP parser refuses (bad framing, headers over the limit, a request too slow to
 * arrive) never reaches Fastify: written straight on the socket, in the problem shape, with a
 * fresh request id since there is no request to take one from.
 */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, code: 'validation_failed', detail: 'The request is not valid HTTP' };
  const requestId = randomUUID();
  const body = JSON.stringify({ ...problemBody(new AppError(known.code, known.detail), requestId), status: known.status });
  this.log.debug({ err: error, request_id: requestId }, 'client error');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
