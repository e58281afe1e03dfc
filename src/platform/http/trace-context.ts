/**
 * With tracing on (tracing.ts), each request's server span is named by its route, and the response
 * carries the span's W3C `traceparent`, so a client can quote the trace of any answer it got.
 */
import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

export function registerTraceContext(app: FastifyInstance) {
  app.addHook('onRequest', (request, reply, done) => {
    // The HTTP instrumentation runs the request inside its span's context.
    const span = trace.getActiveSpan();
    if (span) {
      const { traceId, spanId, traceFlags } = span.spanContext();
      void reply.header('traceparent', `00-${traceId}-${spanId}-0${traceFlags & 1}`);
      const route = request.routeOptions.url;
      if (route) span.setAttribute('http.route', route).updateName(`${request.method} ${route}`);
    }
    done();
  });
}
