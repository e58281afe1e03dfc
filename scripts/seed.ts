/**
 * `npm run seed -- --products N`: adds N realistic products (and the seed categories) to
 * DATABASE_URL or the embedded database, generated on the server in a few batches.
 *
 * Large loads drop the search postings' key, insert, and build it again once — several times
 * faster than maintaining it row by row — all in one transaction, so a load that fails leaves the index as it
 * was. The load runs on one connection of its own with statement_timeout = 0 for the session: an
 * index build over a million rows takes minutes, far beyond the request deadline the API's pool
 * uses (DATABASE_STATEMENT_TIMEOUT_MS), which is why it does not go through that setting.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/platform/config.ts';
import { createMaintenanceDatabase, queryRows, sql } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { migrate } from '../src/platform/migrate.ts';
import { seedCatalog } from '../src/modules/catalog/seed.ts';
import { seededStock } from '../src/modules/inventory/service.ts';

const { values } = parseArgs({ options: { products: { type: 'string', default: '1000' } } });
const count = Number(values.products);
if (!Number.isInteger(count) || count < 1 || count > 50_000_000) {
  console.error('--products must be an integer between 1 and 50000000');
  process.exit(2);
}

// Same definition as migrations/0220_catalog_search_postings.sql: the postings' covering key, which
// every search reads (about ten postings per product).
const POSTINGS_KEY = sql`alter table catalog.search_postings
  add constraint search_postings_pkey primary key (word, product_id) include (in_name, category_id, price_cents, in_stock)`;

const config = loadConfig(process.env);
const logger = createLogger(config);
// One connection without the request deadlines (db.ts: createMaintenanceDatabase).
const db = await createMaintenanceDatabase({ url: config.database.url, dataDir: config.database.dataDir, logger });
try {
  await migrate(db);
  const started = Date.now();
  const rebuild = count >= 100_000;
  await db.primary.transaction(async (tx) => {
    if (db.kind === 'postgres') {
      await tx.execute(sql`set statement_timeout = 0`);
      await tx.execute(sql`set local maintenance_work_mem = '256MB'`);
    }
    if (rebuild) await tx.execute(sql`alter table catalog.search_postings drop constraint search_postings_pkey`);
    await seedCatalog(tx, count, seededStock); // first stock: inventory's
    if (rebuild) await tx.execute(POSTINGS_KEY);
  });
  await db.primary.execute(sql`analyze catalog.products`);
  await db.primary.execute(sql`analyze catalog.search_dictionary`);
  // Sets the visibility map, without which the postings cannot be read index-only (a search would
  // visit one heap block per match). Autovacuum would get there later; a fresh load should not wait.
  // Right after the load's commit a vacuum may not yet see its rows as visible to everyone (a
  // streaming replica's feedback holds the horizon back for a few seconds), so it is repeated,
  // for up to a minute, until most pages are marked.
  if (db.kind === 'postgres') {
    await db.primary.execute(sql`analyze catalog.search_postings`);
    for (let attempt = 0; attempt < 12; attempt++) {
      await db.primary.execute(sql`vacuum catalog.search_postings`);
      const [pages] = await queryRows<{ total: number; visible: number }>(
        db.primary,
        sql`select relpages as total, relallvisible as visible from pg_class where oid = 'catalog.search_postings'::regclass`,
      );
      if (!pages || pages.visible >= pages.total * 0.9) break;
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  } else await db.primary.execute(sql`analyze catalog.search_postings`);
  console.log(`seeded ${count} products in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await db.close();
}
