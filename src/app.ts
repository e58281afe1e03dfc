/**
 * buildApp(services, config): platform HTTP plugins, then each module's routes, registered
 * explicitly. No services hang on the Fastify instance; routes get theirs as arguments.
 */
import path from 'node:path';
import cors from '@fastify/cors';
import Fastify, { type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { registerAuth } from './platform/http/auth.ts';
import { registerCompression } from './platform/http/compression.ts';
import { registerConsole } from './platform/http/console.ts';
import { registerDocs } from './platform/http/docs.ts';
import { registerDraining } from './platform/http/draining.ts';
import { registerInputHandling } from './platform/http/input.ts';
import { registerOperations } from './platform/http/operations.ts';
import { registerProblemHandlers } from './platform/http/problem.ts';
import { registerRateLimit, spendBudget } from './platform/http/rate-limit.ts';
import { registerSecurityHeaders } from './platform/http/security-headers.ts';
import { projectRoot } from './platform/paths.ts';
import { serverOptions, validatorCompiler } from './platform/http/server-options.ts';
import { registerTraceContext } from './platform/http/trace-context.ts';
import type { Services } from './services.ts';
import { AppError } from './platform/errors.ts';
import { identityRoutes } from './modules/identity/routes.ts';
import { catalogRoutes } from './modules/catalog/routes.ts';
import { orderStatsRoutes, ordersRoutes } from './modules/orders/routes.ts';
import { cartRoutes } from './modules/cart/routes.ts';
import { OrderJson } from './modules/orders/service.ts';
import { LowStockEvent, ProductUpdatedEvent } from './modules/inventory/service.ts';
import { webhooksDocument, webhooksRoutes } from './modules/webhooks/routes.ts';

export async function buildApp(services: Services) {
  const { config, logger } = services;
  const app = Fastify(serverOptions(config, logger)).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  registerProblemHandlers(app, services.dependencies);
  // Bodies are JSON only; anything else is 415 rather than a string handed to a handler.
  app.removeContentTypeParser(['text/plain']);
  registerInputHandling(app, config.http.bodyLimitBytes);
  // While shutting down: from SIGTERM on every answer closes its keep-alive connection
  // (draining.ts); once the server closes, new requests get a 503.
  const drain = registerDraining(app);
  // Hooks with no I/O take the callback form: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (drain.closing()) done(new AppError('unavailable', 'The server is shutting down', { headers: { 'Retry-After': '1' } }));
    else done();
  });
  if (config.tracing.endpoint) registerTraceContext(app);
  registerSecurityHeaders(app, { contentSecurityPolicy: { directives: { defaultSrc: ["'self'"] } } });
  // Without allowed origins there is nothing for the plugin to do but run a hook on every request.
  // An OPTIONS request then finds no route (404); the plugin's catch-all route answered 401 behind
  // the auth hook. Neither allows any origin.
  // A browser client needs every method the API uses (the plugin's default is GET, HEAD, POST) and
  // the response headers the contract tells clients to read.
  if (config.http.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...config.http.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposedHeaders: ['X-Request-Id', 'Retry-After', 'Location', 'ETag', 'Idempotent-Replayed'],
    });
  }
  registerRateLimit(app, services.kv, config.http.rateLimitPerMinute);
  registerAuth(app, services.identity.authenticate);
  // Before any route: it marks the routes whose answers carry secrets as it sees them added.
  registerCompression(app, config.http.compressMinBytes);
  await registerDocs(app, {
    compressMinBytes: config.http.compressMinBytes,
    webhooks: webhooksDocument({
      'order.created': OrderJson,
      'order.confirmed': OrderJson,
      'order.cancelled': OrderJson,
      'order.shipped': OrderJson,
      'inventory.low_stock': LowStockEvent,
      'product.updated': ProductUpdatedEvent,
    }),
  });
  await registerConsole(app, path.join(projectRoot(), 'console', 'dist'));
  registerOperations(app, [
    { name: 'database', check: () => services.db.ping() },
    ...(services.redis ? [{ name: 'redis', check: () => services.kv.ping() }] : []),
  ], { token: config.http.metricsToken, production: config.production });

  await app.register(async (api) => identityRoutes(api, services.identity), { prefix: '/api/identity' });
  const guests = {
    allowed: config.catalog.public,
    spend: (request: FastifyRequest) => spendBudget(request, services.kv, 'guest', config.catalog.guestPerMinute),
  };
  await app.register(async (api) => catalogRoutes(api, services.catalog, guests), { prefix: '/api/catalog' });
  await app.register(async (api) => ordersRoutes(api, services.orders), { prefix: '/api/orders/orders' });
  await app.register(async (api) => cartRoutes(api, services.cart), { prefix: '/api/cart' });
  await app.register(async (api) => orderStatsRoutes(api, services.orders), { prefix: '/api/orders/stats' });
  await app.register(async (api) => webhooksRoutes(api, services.webhooks), { prefix: '/api/webhooks' });

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
