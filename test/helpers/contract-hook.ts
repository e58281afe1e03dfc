/**
 * The document-vs-responses hook every test app carries: each answer `app.inject` returns is
 * checked against the app's own OpenAPI document (contract-check.ts), and one that breaks it makes
 * that inject call throw, so the test that caused it fails with the reasons.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { App } from '../../src/app.ts';
import { createContractChecker, type Answer, type OpenApiDocument } from './contract-check.ts';

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

/**
 * Routes a test adds for itself (one that throws, a slow one) are fixtures, not API: left out of
 * the document, and their successful answers are not checked (their errors still must be problems).
 */
export function addFixtureRoutes(app: App, routes: ((app: App) => void) | undefined): RegExp[] {
  const fixtures: RegExp[] = [];
  if (!routes) return fixtures;
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
    fixtures.push(new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+').replace(/\/$/, '')}/?$`));
  });
  routes(app);
  return fixtures;
}

/**
 * Outside the contract by design: CORS preflights (a browser mechanism) and the static assets of
 * the docs page and the staff console (file names change with each build).
 */
function outsideContract(fixtures: RegExp[]) {
  return (answer: Answer) => {
    const path = answer.url.split('?')[0]!;
    if (answer.method === 'OPTIONS' && answer.requestHeaders?.['access-control-request-method']) return true;
    if (path.startsWith('/docs/') || path.startsWith('/admin/assets/')) return true;
    return fixtures.some((pattern) => pattern.test(path));
  };
}

/** The body as the client reads it: a br- or gzip-coded answer is checked after decoding. */
function decodedBody(payload: Buffer, coding: unknown): string {
  if (coding === 'br') return brotliDecompressSync(payload).toString();
  if (coding === 'gzip') return gunzipSync(payload).toString();
  return payload.toString();
}

export function checkEveryAnswer(app: App, fixtures: RegExp[]) {
  const checker = createContractChecker(app.swagger() as unknown as OpenApiDocument, { outsideContract: outsideContract(fixtures) });
  const inject = app.inject.bind(app) as (...args: unknown[]) => unknown;
  const checked = async (options: unknown) => {
    const res = await (inject(options) as ReturnType<App['inject']>);
    const req = res.raw.req;
    const answer: Answer = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      requestHeaders: req.headers,
      status: res.statusCode,
      headers: res.headers,
      body: decodedBody(res.rawPayload, res.headers['content-encoding']),
    };
    const problems = checker.check(answer);
    if (problems.length > 0) {
      throw new ContractViolation(`${answer.method} ${answer.url} → ${answer.status} breaks the OpenAPI document:\n  ${problems.join('\n  ')}\n  body: ${answer.body.slice(0, 500)}`);
    }
    return res;
  };
  // Only the promise form is checked; the chained and callback forms pass straight through.
  (app as { inject: unknown }).inject = (options?: unknown, callback?: unknown) =>
    options === undefined || callback !== undefined ? inject(options, callback) : checked(typeof options === 'string' ? { url: options } : options);
}
