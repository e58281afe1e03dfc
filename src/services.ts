/**
 * The composition root: platform parts first, then each module in dependency order, passed as
 * arguments. The server, the worker, the scripts and the tests all build the same graph here.
 */
import type { Logger } from 'pino';
import type { Config } from './platform/config.ts';
import { createDatabase, type Database } from './platform/db.ts';
import { createDependencyMonitor, type MonitorOptions } from './platform/dependencies.ts';
import { createMailer } from './platform/mail.ts';
import { createMemoryStore, createRedisClient, createRedisStore, waitForRedis, type RedisClient } from './platform/kv.ts';
import type { Platform } from './platform/platform.ts';
import { createIdentityService } from './modules/identity/service.ts';
import { createCatalogService } from './modules/catalog/service.ts';
import { createOrdersService } from './modules/orders/service.ts';
import { createCartService } from './modules/cart/service.ts';
import type { OrderEventSink } from './modules/orders/events.ts';
import { orderMail } from './modules/orders/mails.ts';
import { createWebhooksService } from './modules/webhooks/service.ts';
import { heldUnitsOrNone } from './modules/catalog/holds.ts';
import { createProductFacts } from './modules/catalog/product-facts.ts';
import { createOrderHolds } from './modules/catalog/order-holds.ts';
import { createMemoryHoldStore } from './modules/catalog/holds-memory.ts';
import { createRedisHoldStore } from './modules/catalog/holds-redis.ts';

export interface ServiceOverrides {
  /** An already-open database (tests hand in a freshly migrated copy). */
  db?: Database;
  redis?: RedisClient;
}

export async function createServices(config: Config, logger: Logger, overrides: ServiceOverrides = {}) {
  // Probes are looked up when a dependency is down, by then db and kv exist.
  const probes: MonitorOptions['probes'] = {};
  const dependencies = createDependencyMonitor({ logger, probes });
  const db =
    overrides.db ??
    (await createDatabase({
      url: config.database.url,
      replicaUrls: config.database.replicaUrls,
      poolMax: config.database.poolMax,
      dataDir: config.database.dataDir,
      replicaMaxLagSeconds: config.database.replicaMaxLagSeconds,
      replicaCheckIntervalMs: config.database.replicaCheckIntervalMs,
      deadlines: config.database.deadlines,
      onConnectionError: (error) => dependencies.failed('database', error),
      logger,
    }));
  const redis =
    overrides.redis ??
    (config.redis.url
      ? createRedisClient(config.redis.url, config.redis.keyPrefix, logger, {
          commandTimeoutMs: config.redis.commandTimeoutMs,
          cluster: config.redis.cluster,
          onDown: (error) => dependencies.failed('redis', error),
          onUp: () => dependencies.recovered('redis'),
        })
      : null);
  if (redis) await waitForRedis(redis).catch((error) => logger.warn({ err: error }, 'Redis not ready at start; retrying in the background'));
  const kv = redis ? createRedisStore(redis) : createMemoryStore();
  probes.database = () => db.ping();
  if (redis) probes.redis = () => kv.ping();
  const platform: Platform = { config, logger, db, kv, redis, dependencies };

  const mailer = createMailer(config, logger);
  const identity = createIdentityService({ platform, mailer });
  // Stock holds (carts, and every order for the moment it is written): Redis when configured.
  const holdStore = redis ? createRedisHoldStore(redis) : createMemoryHoldStore();
  const catalog = createCatalogService({
    platform,
    heldUnits: heldUnitsOrNone(holdStore, logger),
    // Staff stock changes move the mirror at once, so carts trusting it see them.
    onStockWritten: (mirrors) => holdStore.commitMany([], mirrors),
  });
  const facts = createProductFacts({ primary: db.primary, kv });
  const webhooks = createWebhooksService({ platform });
  // Order events, consumed in the outbox relay's transaction: signed webhooks and customer mails.
  const orderEventSinks: OrderEventSink[] = [
    (tx, events) => webhooks.record(tx, events.map((e) => ({ type: e.type, occurredAt: e.occurredAt, data: e.order }))),
    async (tx, events) => {
      for (const event of events) {
        const compose = orderMail(event);
        if (compose) await identity.queueCustomerMail(tx, event.order.customer, compose);
      }
    },
  ];
  const orders = createOrdersService({
    platform,
    eventSinks: orderEventSinks,
    facts,
    stock: { returnStock: catalog.returnStock },
    // Stock moved by a committed order: cached catalog pages must not show the old quantity.
    onStockChanged: () => catalog.bumpVersion(),
    holds: createOrderHolds({
      store: holdStore,
      primary: db.primary,
      logger,
      cartTtlSeconds: config.cart.ttlSeconds,
      mirrorMaxAgeMs: config.catalog.mirrorMaxAgeSeconds * 1000,
    }),
  });
  const cart = createCartService({ platform, holds: holdStore, facts, orders });

  return {
    ...platform,
    identity,
    catalog,
    orders,
    cart,
    webhooks,
    async close() {
      await orders.close();
      webhooks.close();
      dependencies.close();
      mailer.close();
      await holdStore.close();
      await kv.close();
      await db.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
