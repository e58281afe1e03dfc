/**
 * The OpenAPI document as the running server would serve it, built without listening and without
 * any configured database or Redis: an empty in-memory database (never migrated, never queried)
 * carries the services the routes close over. Used by `npm run openapi` and the client generator.
 */
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { createServices } from '../src/services.ts';
import { loadConfig } from '../src/platform/config.ts';
import { createDatabase } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { withSecret } from '../src/platform/signing-secret.ts';

export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false', MIGRATE_ON_START: 'false' });
  const logger = createLogger(config);
  const db = await createDatabase({});
  // Nothing is signed: the document does not depend on the secret.
  const services = await createServices(withSecret(config, randomBytes(32).toString('hex')), logger, { db });
  try {
    const app = await buildApp(services);
    await app.ready();
    const document = app.swagger() as unknown as Record<string, unknown>;
    await app.close();
    return document;
  } finally {
    await services.close();
  }
}
