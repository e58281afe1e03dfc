import type { FastifyInstance } from 'fastify';
import type { IdentityService } from './service.ts';

export async function identityRoutes(_app: FastifyInstance, _service: IdentityService) {}
