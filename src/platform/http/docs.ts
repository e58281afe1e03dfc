/** OpenAPI 3 document generated from the route schemas, served at /openapi.json and /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export async function registerDocs(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'opply-commerce API',
        version: '1.0.0',
        description: 'Accounts, catalog, carts with live stock holds and orders. Errors are application/problem+json.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    // Routes that need a signed-in user say so in the document too.
    transform: ({ schema, url, route }) => {
      const auth = (route.config as { auth?: string } | undefined)?.auth;
      const needsAuth = auth ? auth !== 'public' : url.startsWith('/api/');
      const transformed = { ...(schema ?? {}) } as Record<string, unknown>;
      if (needsAuth) transformed['security'] = [{ bearer: [] }];
      return { schema: transformed, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true }, config: { auth: 'public' } }, async () => app.swagger());
}
