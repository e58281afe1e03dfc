/** HTTP only: schemas attached, one service call per handler. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { currentUser } from '../../platform/http/auth.ts';
import { sendPlaced } from '../../platform/http/placed.ts';
import { IdempotencyHeaders, OrderJson, PendingOrder } from '../orders/service.ts';
import { CartItemParams, CartJson, SetItemBody } from './schemas.ts';
import type { CartService } from './service.ts';

export async function cartRoutes(instance: FastifyInstance, service: CartService) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['cart'];

  app.get('/', { config: { auth: 'customer' }, schema: { tags, response: { 200: CartJson } } }, async (request) =>
    service.getCart(currentUser(request).id),
  );

  app.put(
    '/items/:product_id',
    { config: { auth: 'customer' }, schema: { tags, params: CartItemParams, body: SetItemBody, response: { 200: CartJson } } },
    async (request) => service.setItem(currentUser(request).id, request.params.product_id.toLowerCase(), request.body.quantity),
  );

  app.delete(
    '/items/:product_id',
    { config: { auth: 'customer' }, schema: { tags, params: CartItemParams, response: { 200: CartJson } } },
    async (request) => service.removeItem(currentUser(request).id, request.params.product_id.toLowerCase()),
  );

  app.delete('/', { config: { auth: 'customer' }, schema: { tags, response: { 204: Type.Null() } } }, async (request, reply) => {
    await service.clearCart(currentUser(request).id);
    return reply.code(204).send(null);
  });

  app.post(
    '/checkout',
    { config: { auth: 'customer' }, schema: { tags, headers: IdempotencyHeaders, response: { 201: OrderJson, 202: PendingOrder } } },
    async (request, reply) => sendPlaced(reply, await service.checkout(currentUser(request).id, request.headers['idempotency-key'])),
  );
}
