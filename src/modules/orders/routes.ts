/** HTTP only: schemas attached, one service call per handler. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { currentUser } from '../../platform/http/auth.ts';
import { BODY_LIMITS } from '../../platform/http/input.ts';
import { sendPlaced } from '../../platform/http/placed.ts';
import { linkBase, offsetLinks } from '../../platform/pagination.ts';
import { HourlyStats, PendingOrder, HourlyStatsQuery, IdempotencyHeaders, OrderJson, OrderPage, OrderParams, OrdersQuery, PlaceOrderBody } from './schemas.ts';
import type { OrdersService } from './service.ts';

export async function ordersRoutes(instance: FastifyInstance, service: OrdersService) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/',
    {
      config: { auth: 'customer' },
      bodyLimit: BODY_LIMITS.orderLines,
      schema: {
        tags: ['orders'],
        headers: IdempotencyHeaders,
        body: PlaceOrderBody,
        response: { 201: OrderJson, 202: PendingOrder },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const lines = request.body.order_items.map((item) => ({ productId: item.product.toLowerCase(), quantity: item.quantity }));
      const key = request.headers['idempotency-key'];
      const outcome = await service.placeOrder(user.id, lines, {
        idempotencyKey: key,
        requestHash: key === undefined ? undefined : service.requestHash('orders.place', request.body),
      });
      return sendPlaced(reply, outcome);
    },
  );

  app.get(
    '/',
    { config: { auth: 'customer' }, schema: { tags: ['orders'], querystring: OrdersQuery, response: { 200: OrderPage } } },
    async (request) => {
      const user = currentUser(request);
      const limit = request.query.limit ?? 20;
      const offset = request.query.offset ?? 0;
      const page = await service.listOrders(user, { customerId: request.query.customer?.toLowerCase(), status: request.query.status }, limit, offset);
      const base = linkBase(request, service.publicUrl);
      return { count: page.count, ...offsetLinks(base, request.url, offset, limit, page.count), results: page.results };
    },
  );

  app.get(
    '/:id',
    { config: { auth: 'customer' }, schema: { tags: ['orders'], params: OrderParams, response: { 200: OrderJson } } },
    async (request) => service.getOrder(currentUser(request).id, request.params.id.toLowerCase()),
  );

  app.post(
    '/:id/cancel',
    { config: { auth: 'customer' }, schema: { tags: ['orders'], params: OrderParams, response: { 200: OrderJson } } },
    async (request) => service.cancelOrder(currentUser(request), request.params.id.toLowerCase()),
  );

  app.post(
    '/:id/ship',
    { config: { auth: 'staff' }, schema: { tags: ['orders'], params: OrderParams, response: { 200: OrderJson } } },
    async (request) => service.shipOrder(currentUser(request), request.params.id.toLowerCase()),
  );
}

/** /api/orders/stats: staff figures for the console's dashboard. */
export async function orderStatsRoutes(instance: FastifyInstance, service: OrdersService) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/hourly/',
    { config: { auth: 'staff' }, schema: { tags: ['orders'], querystring: HourlyStatsQuery, response: { 200: HourlyStats } } },
    async (request) => service.hourlyStats(request.query.date ?? new Date().toISOString().slice(0, 10)),
  );
}
