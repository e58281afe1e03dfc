/** Fastify options shared by the app and the tests: request ids, limits, logging, validation. */
import { randomUUID } from 'node:crypto';
import { LogController, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { registerAjvFormats } from '@fastify/type-provider-typebox';
import type { Config, TrustProxy } from '../config.ts';
import { clientErrorHandler, frameworkErrors } from './problem.ts';
import { validatorCompiler } from './validation.ts';

registerAjvFormats();

/**
 * The shape a client's X-Request-Id must have to be kept: it is echoed in answers and written in
 * every log line, so quotes, brackets, `=` or control text that a log reader could mistake for
 * structure are not taken; such an id is replaced by a fresh one.
 */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify reads a bare number as "trust nothing" (it cannot check the immediate peer), so a hop
 * count is given as proxy-addr's function: the socket's peer and the next hops−1 addresses
 * appended to X-Forwarded-For are proxies; the address before them is the client. It holds only
 * where the service is reachable through those proxies alone (on AWS: the tasks' security group
 * admits the load balancer only), which docs/deploy-aws.md says.
 */
function proxyTrust(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return trust === 0 ? false : (_address, hop) => hop < trust;
  return Array.isArray(trust) ? [...trust] : trust;
}

export function serverOptions(config: Config, logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    // The header is read by genReqId below, which validates it first.
    requestIdHeader: false,
    // One access line per request, written when it completes (operations.ts), instead of
    // Fastify's two (incoming, completed): half the serialization on every request.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    // A client-sent id is kept when it has the safe shape; anything else gets a fresh one.
    genReqId: (request) => {
      const sent = request.headers['x-request-id'];
      return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID();
    },
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: proxyTrust(config.http.trustProxy),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    forceCloseConnections: 'idle',
    // While closing, app.ts answers new requests with a problem+json 503 (Fastify's own is plain JSON).
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler,
  };
}

export { validatorCompiler };
