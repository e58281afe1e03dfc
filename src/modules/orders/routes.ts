import type { FastifyInstance } from 'fastify';
import type { OrdersService } from './service.ts';

export async function ordersRoutes(_app: FastifyInstance, _service: OrdersService) {}
