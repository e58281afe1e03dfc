/**
 * Metrics of flash-sale mode: stream depth and the age of the oldest accepted order not yet
 * written (read from Redis when /metrics is scraped), and the time from 202 to confirmed.
 */
import type { RedisClient } from '../../../platform/kv.ts';
import client from 'prom-client';
import { registry } from '../../../platform/metrics.ts';
import { STREAM } from './stream.ts';

export const asyncMetrics = {
  confirmSeconds: new client.Histogram({
    name: 'orders_async_confirm_seconds',
    help: 'Flash-sale mode: time from acceptance (202) to the order being written and settled',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  }),
  poisonTotal: new client.Counter({
    name: 'orders_async_poison_total',
    help: 'Flash-sale mode: accepted orders refused on every delivery (cancelled unprocessable) or unparseable (dead_letter)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
};

let watched: RedisClient | null = null;

/** Registers the two gauges read from `redis` at scrape time (once per process). */
export function watchStream(redis: RedisClient) {
  if (watched) return;
  watched = redis;
  new client.Gauge({
    name: 'orders_async_stream_depth',
    help: 'Flash-sale mode: accepted orders not yet written and acknowledged',
    registers: [registry],
    async collect() {
      this.set(await redis.xlen(STREAM).catch(() => 0));
    },
  });
  new client.Gauge({
    name: 'orders_async_oldest_pending_seconds',
    help: 'Flash-sale mode: age of the oldest accepted order not yet written (0 when none)',
    registers: [registry],
    async collect() {
      const first = (await redis.xrange(STREAM, '-', '+', 'COUNT', 1).catch(() => [])) as Array<[string, string[]]>;
      this.set(first.length > 0 ? Math.max(0, (Date.now() - Number(first[0]![0].split('-')[0])) / 1000) : 0);
    },
  });
}
