/** OpenAPI 3 document generated from the route schemas, served at /openapi.json and /docs. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
import { Type } from 'typebox';
import { PROBLEMS, type ProblemCode } from '../errors.ts';
import { projectRoot } from '../paths.ts';
import { representation, sendRepresentation, type Representation } from './compression.ts';

/** package.json's version: the document's info.version and the index's, one number to release. */
export const APP_VERSION: string = JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')).version;

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** Every error answer, as documented in the API: application/problem+json (RFC 9457). */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    // A plain string enum (not anyOf of literals), which every client generator turns into a union.
    code: Type.Unsafe<ProblemCode>({ type: 'string', enum: Object.keys(PROBLEMS), description: 'stable, machine-readable (the error table of the API)' }),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), { description: 'validation failures only' })),
    items: Type.Optional(
      Type.Array(Type.Object({ product: Type.String(), requested: Type.Integer(), available: Type.Integer() }), {
        description: 'insufficient_stock only: the lines that could not be met',
      }),
    ),
  },
  { description: 'Problem details (application/problem+json)', additionalProperties: true },
);

/** An error answer a route declares beside its others (problem.ts renders the body). */
export const problemResponse = (description: string) => ({ description, content: { [PROBLEM_MEDIA_TYPE]: { schema: Problem } } });

/** In the document, every problem answer names the one shared schema, so clients get one type. */
const problemRef = (description: string) => ({ description, content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } });

function documentedResponses(declared: Record<string, unknown> | undefined): Record<string, unknown> {
  const responses: Record<string, unknown> = { ...declared };
  for (const [status, response] of Object.entries(responses)) {
    const { description, content } = response as { description?: string; content?: Record<string, unknown> };
    if (content?.[PROBLEM_MEDIA_TYPE]) responses[status] = problemRef(description ?? 'Error');
  }
  return { ...responses, '4XX': problemRef('Client error'), '5XX': problemRef('Server error') };
}

/** The methods whose bodies Fastify reads (and limits); GET and HEAD bodies are never read. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Answers served by other plugins, which the document would otherwise leave out: the docs page
 * (@fastify/swagger-ui marks its own routes hidden).
 */
const EXTRA_PATHS: OpenAPIV3_1.PathsObject = {
  '/docs': {
    get: {
      tags: ['operations'],
      summary: 'Interactive API documentation',
      responses: {
        200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
        '4XX': problemRef('Client error'),
        '5XX': problemRef('Server error'),
      },
    },
  },
};

/**
 * `webhooks`: the OpenAPI 3.1 section for the requests this service sends (the events a
 * subscription receives), built by the module that sends them.
 */
export async function registerDocs(app: FastifyInstance, options: { compressMinBytes: number; webhooks?: OpenAPIV3_1.Document['webhooks'] }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'opply-commerce API',
        version: APP_VERSION,
        description:
          'Accounts, catalog, carts with live stock holds and orders. Errors are application/problem+json. No text (body, query or path) may contain the NUL character U+0000: such a request is 400 validation_failed naming the field. A JSON body nests at most 32 levels (deeper: 400 validation_failed). A body longer than its operation\'s `x-body-limit` (bytes) is 413 payload_too_large.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        schemas: { Problem: Problem as unknown as Record<string, unknown> },
      },
    },
    // Routes that need a signed-in user say so in the document too; every route documents its
    // errors in their real media type.
    transform: ({ schema, url, route }) => {
      const auth = (route.config as { auth?: string } | undefined)?.auth;
      const needsAuth = auth ? auth !== 'public' : url.startsWith('/api/');
      const transformed = { ...(schema ?? {}) } as Record<string, unknown>;
      // A guest route takes a token or none (the empty requirement).
      if (needsAuth) transformed['security'] = auth === 'guest' ? [{ bearer: [] }, {}] : [{ bearer: [] }];
      transformed['response'] = documentedResponses(transformed['response'] as Record<string, unknown> | undefined);
      // Every method that reads a body has a limit of its own (input.ts BODY_LIMITS, capped by
      // BODY_LIMIT_BYTES): a client can tell a body too large before sending it.
      const methods = ([] as string[]).concat(route.method);
      if (route.bodyLimit !== undefined && methods.some((m) => BODY_METHODS.has(m))) transformed['x-body-limit'] = route.bodyLimit;
      // API paths are documented as the contract writes them, with the trailing slash (both
      // forms are served); a generated client then calls exactly the contract's paths.
      return { schema: transformed, url: url.startsWith('/api/') && !url.endsWith('/') ? `${url}/` : url };
    },
    transformObject: (documentObject) => {
      const { openapiObject } = documentObject as { openapiObject: OpenAPIV3_1.Document };
      return { ...openapiObject, paths: { ...openapiObject.paths, ...EXTRA_PATHS }, ...(options.webhooks ? { webhooks: options.webhooks } : {}) };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  let document: Representation | undefined;
  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['operations'],
        summary: 'This document (OpenAPI 3.1)',
        response: {
          200: { description: 'The OpenAPI document', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } },
          304: { description: 'Not modified (If-None-Match)', type: 'null' },
        },
      },
      config: { auth: 'public' },
    },
    // The document does not change while the process runs: serialized once, compressed at most
    // once per coding (sendRepresentation), with an ETag.
    async (request, reply) => {
      document ??= representation(Buffer.from(JSON.stringify(app.swagger())), options.compressMinBytes);
      return sendRepresentation(request, reply, document);
    },
  );
  // The root answers where things are instead of a 404, for a person or a client finding its way.
  const Index = Type.Object({
    name: Type.String(),
    version: Type.String(),
    docs: Type.String({ description: 'interactive API documentation' }),
    openapi: Type.String({ description: 'the OpenAPI document' }),
    console: Type.String({ description: 'the staff console' }),
    health: Type.String({ description: 'readiness probe' }),
  });
  app.get(
    '/',
    { schema: { tags: ['operations'], summary: 'Where things are', response: { 200: Index } }, config: { auth: 'public' } },
    async () => ({ name: 'opply-commerce', version: APP_VERSION, docs: '/docs', openapi: '/openapi.json', console: '/admin/', health: '/health/ready' }),
  );
}
