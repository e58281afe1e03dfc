/** Catalog HTTP: schemas attached, one service call per handler. Reads answer cached JSON bytes. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Rendered } from './present.ts';
import { sendRepresentation } from '../../platform/http/compression.ts';
import { BODY_LIMITS } from '../../platform/http/input.ts';
import { linkBase } from '../../platform/pagination.ts';
import {
  Category,
  CategoryCreate,
  CategoryParams,
  CategoryPatch,
  Inventory,
  InventoryChange,
  LowStockQuery,
  ListQuery,
  Product,
  ProductCreate,
  ProductPage,
  ProductParams,
  ProductPatch,
  SuggestQuery,
  Suggestion,
} from './schemas.ts';
import type { CatalogService } from './service.ts';

const customer = { auth: 'customer' as const };
const staff = { auth: 'staff' as const };
const tags = ['catalog'];

/** Sends kept bytes (plain or coded as the client accepts) with their ETag, or 304 when the client has them. */
function sendRendered(request: FastifyRequest, reply: FastifyReply, rendered: Rendered) {
  void reply.header('cache-control', 'private, no-cache');
  return sendRepresentation(request, reply, rendered);
}

/** Guest browsing (CATALOG_PUBLIC): whether the catalog's reads need no token, and the guests' per-address budget. */
export interface GuestAccess {
  allowed: boolean;
  spend: (request: FastifyRequest) => Promise<void>;
}

export async function catalogRoutes(instance: FastifyInstance, service: CatalogService, guests: GuestAccess) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const baseUrl = (request: FastifyRequest) => linkBase(request, service.publicUrl);
  // Reads a guest may make: a token is still checked when sent; without one, the address pays.
  const browse = guests.allowed ? { auth: 'guest' as const } : customer;
  const guestBudget = async (request: FastifyRequest) => {
    if (guests.allowed && !request.user) await guests.spend(request);
  };

  app.get(
    '/products/',
    { config: browse, preHandler: guestBudget, schema: { tags, querystring: ListQuery, response: { 200: ProductPage, 304: Type.Null() } } },
    async (request, reply) => {
      const rendered = await service.listProducts({ query: request.query, baseUrl: baseUrl(request), path: request.url.split('?')[0]! });
      return sendRendered(request, reply, rendered);
    },
  );

  app.get(
    '/products/:id/',
    { config: browse, preHandler: guestBudget, schema: { tags, params: ProductParams, response: { 200: Product, 304: Type.Null() } } },
    async (request, reply) => sendRendered(request, reply, await service.getProduct(request.params.id)),
  );

  app.post('/products/', { config: staff, bodyLimit: BODY_LIMITS.product, schema: { tags, body: ProductCreate, response: { 201: Product } } }, async (request, reply) =>
    reply.code(201).send(await service.createProduct(request.body)),
  );

  app.put('/products/:id/', { config: staff, bodyLimit: BODY_LIMITS.product, schema: { tags, params: ProductParams, body: ProductCreate, response: { 200: Product } } }, async (request) =>
    service.replaceProduct(request.params.id, request.body),
  );

  app.patch('/products/:id/', { config: staff, bodyLimit: BODY_LIMITS.product, schema: { tags, params: ProductParams, body: ProductPatch, response: { 200: Product } } }, async (request) =>
    service.patchProduct(request.params.id, request.body),
  );

  app.delete('/products/:id/', { config: staff, schema: { tags, params: ProductParams, response: { 204: Type.Null() } } }, async (request, reply) => {
    await service.archiveProduct(request.params.id);
    return reply.code(204).send(null);
  });

  app.post(
    '/products/:id/inventory/',
    { config: staff, schema: { tags, params: ProductParams, body: InventoryChange, response: { 200: Inventory } } },
    async (request) => service.changeInventory(request.params.id, request.body),
  );

  app.get(
    '/products/:id/inventory/',
    { config: staff, schema: { tags, params: ProductParams, response: { 200: Inventory } } },
    async (request) => service.inventory(request.params.id),
  );

  app.get('/inventory/low/', { config: staff, schema: { tags, querystring: LowStockQuery, response: { 200: Type.Array(Inventory) } } }, async (request) =>
    service.lowStock(request.query.max_stock, request.query.limit),
  );

  app.get(
    '/suggest/',
    { config: browse, preHandler: guestBudget, schema: { tags, querystring: SuggestQuery, response: { 200: Type.Array(Suggestion, { maxItems: 10 }), 304: Type.Null() } } },
    async (request, reply) => sendRendered(request, reply, await service.suggest(request.query.q)),
  );

  app.get('/categories/', { config: browse, preHandler: guestBudget, schema: { tags, response: { 200: Type.Array(Category) } } }, async () => service.listCategories());

  app.post('/categories/', { config: staff, schema: { tags, body: CategoryCreate, response: { 201: Category } } }, async (request, reply) =>
    reply.code(201).send(await service.createCategory(request.body)),
  );

  app.patch(
    '/categories/:slug/',
    { config: staff, schema: { tags, params: CategoryParams, body: CategoryPatch, response: { 200: Category } } },
    async (request) => service.updateCategory(request.params.slug, request.body),
  );

  app.delete('/categories/:slug/', { config: staff, schema: { tags, params: CategoryParams, response: { 204: Type.Null() } } }, async (request, reply) => {
    await service.deleteCategory(request.params.slug);
    return reply.code(204).send(null);
  });
}
