/**
 * OpenTelemetry tracing: a server span per HTTP request (W3C `traceparent` continued), with child
 * spans for PostgreSQL (pg, and PGlite queries) and Redis (ioredis) calls, exported over OTLP
 * (http/protobuf). Started by the server before it creates its services; when
 * OTEL_EXPORTER_OTLP_ENDPOINT is unset nothing here is loaded and nothing is patched.
 *
 * The instrumentations patch the drivers' prototypes (pg's Client, pg-pool, ioredis' Redis,
 * node:http's Server). This is an ES module app whose static imports load pg and ioredis before any
 * code runs, so instead of an `--import` loader hook (import-in-the-middle wraps every module and
 * breaks easily under tsx) each instrumented package is required once after registration: the
 * require hook then patches the already-loaded module in place, and the prototypes are shared with
 * the ES imports. The Redis client must still be created afterwards (kv.ts binds `sendCommand`).
 * PGlite has no instrumentation; its query methods are wrapped here the same way.
 */
import { createRequire } from 'node:module';
import { context, diag, DiagLogLevel, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { Config } from './config.ts';

export interface Tracing {
  /** Ends the instrumentation and sends the spans still buffered. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Spans go here, one by one, instead of the OTLP endpoint (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

/** Requests that are not worth a trace: probes and scrapes every few seconds. */
const UNTRACED = /^\/(health\/|metrics)/;

export async function startTracing(config: Config, logger: Logger, options: TracingOptions = {}): Promise<Tracing | undefined> {
  const { endpoint, serviceName, sampleRatio } = config.tracing;
  if (!endpoint && !options.exporter) return undefined;
  const [sdk, { AsyncLocalStorageContextManager }, core, { OTLPTraceExporter }, { resourceFromAttributes }, { registerInstrumentations }, { HttpInstrumentation }, { PgInstrumentation }, { IORedisInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/exporter-trace-otlp-proto'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-ioredis'),
    ]);
  diag.setLogger(diagToPino(logger), DiagLogLevel.WARN);
  const processor = options.exporter
    ? new sdk.SimpleSpanProcessor({ exporter: options.exporter })
    : new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${endpoint!.replace(/\/+$/, '')}/v1/traces` }) });
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(sampleRatio) }),
    spanProcessors: [processor],
  });
  // What NodeTracerProvider.register() did before SDK 3: the AsyncLocalStorage context manager and
  // the W3C trace-context and baggage propagators, then the provider as the global one.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(provider);
  const instrumentations: Instrumentation[] = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED.test(request.url ?? ''),
      // The only outgoing HTTP is the exporter's own, which must not trace itself.
      ignoreOutgoingRequestHook: () => true,
    }),
    // Queries outside a request (replica lag checks, jobs) would each be a trace of their own.
    new PgInstrumentation({ requireParentSpan: true }),
    // Command names only: keys carry user names and token ids, values carry user data.
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
  ];
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations });
  patchLoadedModules();
  const restorePglite = await tracePglite(provider.getTracer('opply-commerce/pglite'));
  logger.info({ endpoint: endpoint ?? 'in-memory', service_name: serviceName, sample_ratio: sampleRatio }, 'tracing started');
  return {
    async shutdown() {
      unregister();
      restorePglite();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
}

/** Requires each instrumented package once, so the hook patches the copy the app already loaded. */
function patchLoadedModules() {
  const require = createRequire(import.meta.url);
  require('node:http');
  require('ioredis');
  require('pg');
  // pg-pool as pg itself loads it.
  createRequire(require.resolve('pg'))('pg-pool');
}

/** OpenTelemetry's own warnings (an export that failed) as log lines. */
function diagToPino(logger: Logger) {
  const log = logger.child({ component: 'opentelemetry' });
  const at = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) => log[level]({ details: args }, message);
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), verbose: at('debug') };
}

type Query = (this: unknown, text: string, ...rest: unknown[]) => Promise<unknown>;

/**
 * Spans for PGlite's query and exec, also inside a transaction, while a request is traced. Returns
 * the function that puts the originals back.
 */
async function tracePglite(tracer: Tracer): Promise<() => void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const proto = PGlite.prototype as unknown as { query: Query; exec: Query; transaction: (this: unknown, ...args: unknown[]) => Promise<unknown> };
  const originals = { query: proto.query, exec: proto.exec, transaction: proto.transaction };
  const traced = (method: 'query' | 'exec', original: Query): Query =>
    function (this: unknown, text, ...rest) {
      if (!trace.getSpan(context.active())) return original.call(this, text, ...rest);
      const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? method;
      // The attribute names pg's instrumentation uses (stable semantic conventions).
      const attributes = { 'db.system.name': 'postgresql', 'db.namespace': 'pglite', 'db.operation.name': operation, 'db.query.text': text };
      return tracer.startActiveSpan(`pglite.${method}:${operation}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
        try {
          return await original.call(this, text, ...rest);
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      });
    };
  proto.query = traced('query', originals.query);
  proto.exec = traced('exec', originals.exec);
  proto.transaction = function (this: unknown, ...args: unknown[]) {
    const [callback] = args as [(tx: Record<'query' | 'exec', Query>) => Promise<unknown>];
    return originals.transaction.call(this, (tx: Record<'query' | 'exec', Query>) => {
      tx.query = traced('query', tx.query);
      tx.exec = traced('exec', tx.exec);
      return callback(tx);
    });
  };
  return () => Object.assign(proto, originals);
}
