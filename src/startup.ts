/** What runs before the API listens: migrations, the admin account, the demo catalog. */
import { migrate } from './platform/migrate.ts';
import type { Services } from './services.ts';

export async function runStartupTasks(services: Services) {
  const { config, logger, db } = services;
  if (config.database.migrateOnStart) {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  }
  await services.identity.ensureAdmin();
  if (config.database.seedDemoData) await services.catalog.seedDemoIfEmpty();
}
