/**
 * Helmet's security headers on every answer. With fixed options (no CSP nonces, no per-route
 * settings) helmet's output never changes, so it is computed once at start-up and copied onto
 * each reply; @fastify/helmet instead builds helmet afresh and re-parses the CSP directives on
 * every request, a measurable part of a cached catalog page's cost (docs/benchmarks.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** The headers helmet sets for these options, as it would set them on a response. */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure;
  return headers;
}

export function registerSecurityHeaders(app: FastifyInstance, options: Readonly<HelmetOptions>) {
  const headers = helmetHeaders(options);
  // Set at the start of the request, like helmet does, so error answers carry them too.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(headers);
    // API answers carry tokens (RFC 6749 §5.1 requires no-store on them) and personal data
    // (profile, cart, orders): no cache, shared or the browser's own, may keep them. A route whose
    // answer may be revalidated says so itself (the catalog's product pages: private, no-cache).
    if (request.url.startsWith('/api/')) void reply.header('cache-control', 'no-store');
    done();
  });
}
