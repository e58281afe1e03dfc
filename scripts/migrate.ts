/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../src/platform/config.ts';
import { createDatabase } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { migrate } from '../src/platform/migrate.ts';

const config = loadConfig(process.env);
const logger = createLogger(config);
// No request deadlines: a migration over a large catalog legitimately runs for minutes (0220's
// postings for a million products: ~1.5 min), which the server's start-up migration, under the
// pool's DATABASE_STATEMENT_TIMEOUT_MS, would cancel. Run this before starting such a deployment.
const db = await createDatabase({
  url: config.database.url,
  dataDir: config.database.dataDir,
  logger,
  poolMax: 1,
  deadlines: { statementMs: 0, queryMs: 0, idleInTransactionMs: 0 },
});
try {
  const applied = await migrate(db);
  logger.info({ applied }, applied.length > 0 ? `applied ${applied.length} migration(s)` : 'database is up to date');
} finally {
  await db.close();
}
