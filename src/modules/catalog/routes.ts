import type { FastifyInstance } from 'fastify';
import type { CatalogService } from './service.ts';

export async function catalogRoutes(_app: FastifyInstance, _service: CatalogService) {}
