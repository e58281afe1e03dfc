/**
 * `npm run seed -- --products N`: adds N realistic products (and the seed categories) to
 * DATABASE_URL or the embedded database, generated on the server in a few batches.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/platform/config.ts';
import { createDatabase, sql } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { migrate } from '../src/platform/migrate.ts';
import { seedCatalog } from '../src/modules/catalog/seed.ts';

const { values } = parseArgs({ options: { products: { type: 'string', default: '1000' } } });
const count = Number(values.products);
if (!Number.isInteger(count) || count < 1 || count > 50_000_000) {
  console.error('--products must be an integer between 1 and 50000000');
  process.exit(2);
}

const config = loadConfig(process.env);
const logger = createLogger(config);
const db = await createDatabase({ url: config.database.url, dataDir: config.database.dataDir, logger });
try {
  await migrate(db);
  const started = Date.now();
  // Large loads: building the trigram index once afterwards is several times faster than
  // maintaining it row by row. Same definition as migrations/0200_catalog.sql.
  const rebuild = count >= 100_000;
  if (rebuild) await db.primary.execute(sql`drop index if exists catalog.products_search_trgm_idx`);
  await seedCatalog(db.primary, count);
  if (rebuild) {
    await db.primary.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.execute(sql`set local maintenance_work_mem = '256MB'`);
      await tx.execute(sql`create index products_search_trgm_idx on catalog.products using gin ((name || ' ' || description) gin_trgm_ops)`);
    });
  }
  await db.primary.execute(sql`analyze catalog.products`);
  console.log(`seeded ${count} products in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await db.close();
}
