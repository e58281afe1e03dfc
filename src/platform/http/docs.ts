/** OpenAPI 3 document generated from the route schemas, served at /openapi.json and /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

/** Every error answer, as documented in the API: application/problem+json (RFC 9457). */
const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'stable, machine-readable: validation_failed, not_found, insufficient_stock, …' }),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { description: 'Problem details (application/problem+json)', additionalProperties: true },
);

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
      if (url.startsWith('/api/')) {
        transformed['response'] = { ...(transformed['response'] as object | undefined), '4XX': Problem, '5XX': Problem };
      }
      return { schema: transformed, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true }, config: { auth: 'public' } }, async () => app.swagger());
}
