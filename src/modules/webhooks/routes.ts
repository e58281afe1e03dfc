/** HTTP only: schemas attached, one service call per handler. Staff only. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { linkBase, offsetLinks } from '../../platform/pagination.ts';
import {
  CreatedSubscription,
  CreateSubscriptionBody,
  DeliveryPage,
  DeliveryParams,
  PageParams,
  RotatedSecret,
  SubscriptionJson,
  SubscriptionPage,
  SubscriptionParams,
  UpdateSubscriptionBody,
} from './schemas.ts';
import type { WebhooksService } from './service.ts';

/** The webhooks document app.ts adds to the OpenAPI one (each event's data shape handed in by its owner). */
export { webhooksDocument } from './schemas.ts';

const staff = { auth: 'staff' } as const;
const tags = ['webhooks'];

export async function webhooksRoutes(instance: FastifyInstance, service: WebhooksService) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const lower = (id: string) => id.toLowerCase();

  app.get('/subscriptions', { config: staff, schema: { tags, querystring: PageParams, response: { 200: SubscriptionPage } } }, async (request) => {
    const { limit = 20, offset = 0 } = request.query;
    const page = await service.listSubscriptions(limit, offset);
    return { count: page.count, ...offsetLinks(linkBase(request, service.publicUrl), request.url, offset, limit, page.count), results: page.results };
  });

  app.post(
    '/subscriptions',
    { config: staff, schema: { tags, body: CreateSubscriptionBody, response: { 201: CreatedSubscription } } },
    async (request, reply) => reply.code(201).send(await service.createSubscription(request.body)),
  );

  app.get('/subscriptions/:id', { config: staff, schema: { tags, params: SubscriptionParams, response: { 200: SubscriptionJson } } }, async (request) =>
    service.getSubscription(lower(request.params.id)),
  );

  app.patch(
    '/subscriptions/:id',
    { config: staff, schema: { tags, params: SubscriptionParams, body: UpdateSubscriptionBody, response: { 200: SubscriptionJson } } },
    async (request) => service.updateSubscription(lower(request.params.id), request.body),
  );

  app.delete(
    '/subscriptions/:id',
    { config: staff, schema: { tags, params: SubscriptionParams, response: { 204: Type.Null({ description: 'deleted, with its pending deliveries and log' }) } } },
    async (request, reply) => {
      await service.deleteSubscription(lower(request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/subscriptions/:id/rotate-secret',
    { config: staff, schema: { tags, params: SubscriptionParams, response: { 200: RotatedSecret } } },
    async (request) => service.rotateSecret(lower(request.params.id)),
  );

  app.get(
    '/subscriptions/:id/deliveries',
    { config: staff, schema: { tags, params: SubscriptionParams, querystring: PageParams, response: { 200: DeliveryPage } } },
    async (request) => {
      const { limit = 20, offset = 0 } = request.query;
      const page = await service.listDeliveries(lower(request.params.id), limit, offset);
      return { count: page.count, ...offsetLinks(linkBase(request, service.publicUrl), request.url, offset, limit, page.count), results: page.results };
    },
  );

  app.post(
    '/subscriptions/:id/deliveries/:delivery_id/redeliver',
    {
      config: staff,
      schema: { tags, params: DeliveryParams, response: { 202: Type.Object({ id: Type.String({ description: 'the new attempt (in the delivery log)' }) }, { description: 'queued: sent again with the same webhook-id' }) } },
    },
    async (request, reply) => reply.code(202).send(await service.redeliver(lower(request.params.id), lower(request.params.delivery_id))),
  );
}
