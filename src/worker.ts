/**
 * Worker entry point: the same services as the API, running the modules' background jobs
 * (outbox relay, purges). Never imports Fastify.
 */
import { ConfigError, loadConfig } from './platform/config.ts';
import { createLogger } from './platform/logger.ts';
import { createServices } from './services.ts';
import { runStartupTasks } from './startup.ts';

async function main() {
  const config = loadConfig(process.env);
  const logger = createLogger(config).child({ process: 'worker' });
  const services = await createServices(config, logger);
  await runStartupTasks(services);
  const jobs = startJobs(services);
  logger.info('worker started');
  const stop = async () => {
    jobs.forEach((job) => job.stop());
    await services.close();
    logger.info('worker stopped');
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

/** Each job runs on its own interval; a failed run is logged and retried at the next tick. */
function startJobs(services: Awaited<ReturnType<typeof createServices>>) {
  const jobs: Array<{ name: string; everyMs: number; run: () => Promise<unknown> }> = [
    { name: 'orders.relay-outbox', everyMs: 1_000, run: () => services.orders.relayOutbox() },
    { name: 'orders.purge-idempotency-keys', everyMs: 10 * 60_000, run: () => services.orders.purgeExpiredIdempotencyKeys() },
  ];
  return jobs.map((job) => {
    const timer = setInterval(() => {
      job.run().catch((error) => services.logger.error({ err: error, job: job.name }, 'job failed'));
    }, job.everyMs);
    return { stop: () => clearInterval(timer) };
  });
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
