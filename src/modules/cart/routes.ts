import type { FastifyInstance } from 'fastify';
import type { CartService } from './service.ts';

export async function cartRoutes(_app: FastifyInstance, _service: CartService) {}
