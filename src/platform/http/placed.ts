/** The answer to a request that created (or accepted) something, possibly replayed under an Idempotency-Key. */
import type { FastifyReply } from 'fastify';

export interface Placed {
  /** 201 created, or 202 accepted (not yet done). */
  status: number;
  body: unknown;
  /** Answered from an earlier request with the same Idempotency-Key. */
  replayed: boolean;
  /** A 202's resource to poll. */
  location?: string | undefined;
}

/** 201 with the resource, or 202 with the resource to poll in `Location`; a replay says so. */
export function sendPlaced(reply: FastifyReply, outcome: Placed) {
  if (outcome.replayed) void reply.header('idempotent-replayed', 'true');
  if (outcome.status === 202 && outcome.location) void reply.header('location', outcome.location);
  return reply.code(outcome.status).send(outcome.body);
}
