/**
 * Draining before a shutdown. From SIGTERM on, every answer carries `Connection: close`, while the
 * server keeps listening for SHUTDOWN_DRAIN_MS: requests already on the wire (written to a
 * keep-alive socket but not read yet, which is common while the event loop is busy) are read and
 * answered, and each client learns to open its next connection elsewhere. Closing the listener at
 * once would make Node destroy those sockets as idle and reset requests the client had sent
 * before the signal.
 */
import type { FastifyInstance } from 'fastify';

const starters = new WeakMap<FastifyInstance, () => void>();

/** Installs the hooks; `closing()` is true once app.close() has begun (new requests then get 503). */
export function registerDraining(app: FastifyInstance): { closing: () => boolean } {
  let draining = false;
  let closing = false;
  starters.set(app, () => {
    draining = true;
  });
  // app.close() without a signal first (tests, scripts) drains too, without the wait.
  app.addHook('preClose', async () => {
    draining = true;
    closing = true;
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  return { closing: () => closing };
}

/** From now on every answer closes its connection (the listener stays open). */
export function startDraining(app: FastifyInstance) {
  starters.get(app)?.();
}
