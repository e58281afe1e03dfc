/** Prometheus metrics shared by the platform; exposed at GET /metrics. */
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const metrics = {
  httpDuration: new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }),
  dbReads: new client.Counter({
    name: 'db_read_queries_total',
    help: 'Read-path queries by target (replica or primary)',
    labelNames: ['target'] as const,
    registers: [registry],
  }),
  replicaLag: new client.Gauge({
    name: 'db_replica_lag_seconds',
    help: 'Replay lag of each read replica at its last check',
    labelNames: ['replica'] as const,
    registers: [registry],
  }),
  replicaHealthy: new client.Gauge({
    name: 'db_replica_healthy',
    help: '1 when the replica takes reads, 0 when it is skipped',
    labelNames: ['replica'] as const,
    registers: [registry],
  }),
  dependencyUp: new client.Gauge({
    name: 'dependency_up',
    help: '1 while the dependency answers, 0 from its first failure until a probe succeeds',
    labelNames: ['name'] as const,
    registers: [registry],
  }),
  dependencyRefusals: new client.Counter({
    name: 'dependency_refusals_total',
    help: 'Requests answered 503 unavailable because the dependency was missing or too slow',
    labelNames: ['name'] as const,
    registers: [registry],
  }),
  cacheLookups: new client.Counter({
    name: 'cache_lookups_total',
    help: 'Cache lookups by cache and result',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
  }),
};
