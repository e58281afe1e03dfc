/**
 * buildApp(services, config): platform HTTP plugins, then each module's routes, registered
 * explicitly. No services hang on the Fastify instance; routes get theirs as arguments.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { registerAuth } from './platform/http/auth.ts';
import { registerDocs } from './platform/http/docs.ts';
import { registerOperations } from './platform/http/operations.ts';
import { registerProblemHandlers } from './platform/http/problem.ts';
import { registerRateLimit } from './platform/http/rate-limit.ts';
import { serverOptions, TypeBoxValidatorCompiler } from './platform/http/server-options.ts';
import type { Services } from './services.ts';
import { identityRoutes } from './modules/identity/routes.ts';
import { catalogRoutes } from './modules/catalog/routes.ts';
import { ordersRoutes } from './modules/orders/routes.ts';
import { cartRoutes } from './modules/cart/routes.ts';

export async function buildApp(services: Services) {
  const { config, logger } = services;
  const app = Fastify(serverOptions(config, logger)).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  registerProblemHandlers(app);
  // Bodies are JSON only; anything else is 415 rather than a string handed to a handler.
  app.removeContentTypeParser(['text/plain']);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // While shutting down, answers close their keep-alive connection so the server can finish.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) void reply.header('connection', 'close');
  });
  await app.register(helmet, { global: true, contentSecurityPolicy: { directives: { defaultSrc: ["'self'"] } } });
  await app.register(cors, { origin: config.http.corsOrigins.length > 0 ? [...config.http.corsOrigins] : false });
  registerRateLimit(app, services.kv, config.http.rateLimitPerMinute);
  registerAuth(app, services.identity.authenticate);
  await registerDocs(app);
  registerOperations(app, [
    { name: 'database', check: () => services.db.ping() },
    ...(services.redis ? [{ name: 'redis', check: () => services.kv.ping() }] : []),
  ]);

  await app.register(async (api) => identityRoutes(api, services.identity), { prefix: '/api/identity' });
  await app.register(async (api) => catalogRoutes(api, services.catalog), { prefix: '/api/catalog' });
  await app.register(async (api) => ordersRoutes(api, services.orders), { prefix: '/api/orders' });
  await app.register(async (api) => cartRoutes(api, services.cart), { prefix: '/api/cart' });

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
