/** What runs before the API listens: migrations, the admin account, the demo catalog. */
import { migrate } from './platform/migrate.ts';
import { assertAsyncOrdersStore } from './modules/orders/service.ts';
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

/**
 * Flash-sale mode accepts an order once Redis has it: a Redis that does not persist every write
 * could lose accepted orders, so the server and the worker refuse to start on one (the message
 * says what to change). Not in runStartupTasks: tests run the mode on the machine's bare Redis.
 */
export async function refuseUndurableOrdersStore(services: Services): Promise<void> {
  const { config } = services;
  await assertAsyncOrdersStore({ ordersMode: config.orders.mode, redisUrl: config.redis.url, redisDurability: config.redis.durability }, services.redis ?? undefined);
}
