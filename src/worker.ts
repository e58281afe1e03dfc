/**
 * Worker entry point: the same services as the API, running the modules' background jobs
 * (outbox relay, mail delivery, idempotency-key and refresh-token purges). Never imports Fastify.
 */
import { startJobs } from './jobs.ts';
import { ConfigError, loadConfig } from './platform/config.ts';
import { createLogger } from './platform/logger.ts';
import { resolveSigningSecret } from './platform/signing-secret.ts';
import { createServices } from './services.ts';
import { refuseUndurableOrdersStore, runStartupTasks } from './startup.ts';

async function main() {
  const loaded = loadConfig(process.env);
  const logger = createLogger(loaded).child({ process: 'worker' });
  // The worker signs and verifies no token; it still uses the data directory's secret when there is one.
  const config = await resolveSigningSecret(loaded, logger, { verifiesTokens: false });
  const services = await createServices(config, logger);
  await refuseUndurableOrdersStore(services);
  await runStartupTasks(services);
  const jobs = startJobs(services);
  // The timers are unref'd; this keeps the process alive until a signal arrives.
  const keepAlive = setInterval(() => undefined, 60_000);
  logger.info('worker started');
  const stop = async () => {
    clearInterval(keepAlive);
    await jobs.stop();
    await services.close();
    logger.info('worker stopped');
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
