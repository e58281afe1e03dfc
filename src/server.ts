/**
 * Entry point: loadConfig → createServices → startup tasks → buildApp → listen. On SIGTERM or
 * SIGINT it drains for SHUTDOWN_DRAIN_MS (still listening, every answer closing its connection),
 * stops accepting connections, lets in-flight requests finish (all within SHUTDOWN_TIMEOUT_MS),
 * then closes the pools.
 */
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { startDraining } from './platform/http/draining.ts';
import { startJobs } from './jobs.ts';
import { ConfigError, loadConfig, type Config } from './platform/config.ts';
import { createLogger } from './platform/logger.ts';
import { resolveSigningSecret } from './platform/signing-secret.ts';
import { startTracing, type Tracing } from './platform/tracing.ts';
import { createServices, type Services } from './services.ts';
import { refuseUndurableOrdersStore, runStartupTasks } from './startup.ts';

export function closeOnSignals(app: FastifyInstance, services: Services, config: Config, jobs?: { stop(): Promise<void> }, tracing?: Tracing) {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    services.logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      services.logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.http.shutdownTimeoutMs);
    force.unref();
    try {
      // Keep listening a moment with every answer closing its connection (draining.ts), then close.
      startDraining(app);
      await new Promise((resolve) => setTimeout(resolve, config.http.shutdownDrainMs));
      await app.close();
      await jobs?.stop();
      await services.close();
      await tracing?.shutdown();
      services.logger.info('shut down cleanly');
      process.exitCode = 0;
    } catch (error) {
      services.logger.error({ err: error }, 'error during shutdown');
      process.exitCode = 1;
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

export async function main(extend?: (app: FastifyInstance) => void | Promise<void>) {
  let loaded: Config;
  try {
    loaded = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  const logger = createLogger(loaded);
  // JWT_SECRET, or the data directory's generated secret, or (no data directory) one of this process.
  const config = await resolveSigningSecret(loaded, logger);
  // Before the services: the Redis client is instrumented only if created after this.
  const tracing = await startTracing(config, logger);
  const services = await createServices(config, logger);
  await refuseUndurableOrdersStore(services);
  await runStartupTasks(services);
  const app = await buildApp(services);
  await extend?.(app);
  const jobs = config.jobs.runInApi ? startJobs(services) : undefined;
  closeOnSignals(app, services, config, jobs, tracing);
  await app.listen({ port: config.http.port, host: config.http.host });
  logStartupBanner(app, config, services);
  return { app, services };
}

/** Where things are, once listening: the first thing a person starting the server needs. */
export function logStartupBanner(app: FastifyInstance, config: Config, services: Services) {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  // A wildcard address is not one a browser can open; the machine's own name for itself is.
  const host = ['0.0.0.0', '::', ''].includes(config.http.host) ? 'localhost' : config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const base = config.http.publicUrl?.replace(/\/+$/, '') ?? `http://${host}:${port}`;
  const staff = config.auth.adminUsername
    ? `staff account "${config.auth.adminUsername}" (ADMIN_USERNAME/ADMIN_PASSWORD)`
    : 'no staff account from the environment: set ADMIN_USERNAME and ADMIN_PASSWORD, or run `npm run create-staff -- --username NAME --email E`';
  const database = config.database.url ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.database.dataDir}`;
  services.logger.info(
    { url: base, port, docs: `${base}/docs`, console: `${base}/admin/` },
    [
      `opply-commerce is up`,
      `  API            ${base}/api/`,
      `  API docs       ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
      `  Staff console  ${base}/admin/ — ${staff}`,
      `  Database       ${database}; Redis ${config.redis.url ? '(REDIS_URL)' : 'in-process stand-in'}`,
    ].join('\n'),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error('failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
