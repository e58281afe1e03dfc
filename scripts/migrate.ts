/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../src/platform/config.ts';
import { createMaintenanceDatabase } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { migrate } from '../src/platform/migrate.ts';

const config = loadConfig(process.env);
const logger = createLogger(config);
// One connection without the request deadlines (db.ts: createMaintenanceDatabase): the server's start-up
// migration runs under the pool's DATABASE_STATEMENT_TIMEOUT_MS, so on a large catalog run this before
// starting such a deployment.
const db = await createMaintenanceDatabase({ url: config.database.url, dataDir: config.database.dataDir, logger });
try {
  const applied = await migrate(db);
  logger.info({ applied }, applied.length > 0 ? `applied ${applied.length} migration(s)` : 'database is up to date');
} finally {
  await db.close();
}
