/**
 * The composition root: platform parts first, then each module in dependency order, passed as
 * arguments. The server, the worker, the scripts and the tests all build the same graph here.
 */
import type { Logger } from 'pino';
import type { ReadyConfig } from './platform/signing-secret.ts';
import { createDatabase, type Database } from './platform/db.ts';
import { createDependencyMonitor, type MonitorOptions } from './platform/dependencies.ts';
import { createMailer } from './platform/mail.ts';
import { createMemoryStore, createRedisClient, createRedisStore, waitForRedis, type RedisClient } from './platform/kv.ts';
import type { Platform } from './platform/platform.ts';
import { createIdentityService } from './modules/identity/service.ts';
import { createInventoryService } from './modules/inventory/service.ts';
import { createCatalogService } from './modules/catalog/service.ts';
import { createOrdersService, orderMail, receivedMail, type OrderEventSink } from './modules/orders/service.ts';
import { createCartService } from './modules/cart/service.ts';
import { createWebhooksService } from './modules/webhooks/service.ts';

export interface ServiceOverrides {
  /** An already-open database (tests hand in a freshly migrated copy). */
  db?: Database;
  redis?: RedisClient;
}

export async function createServices(config: ReadyConfig, logger: Logger, overrides: ServiceOverrides = {}) {
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
  const webhooks = createWebhooksService({ platform });
  // Units (stock, holds, the Redis mirror): the one owner, handed to catalog, orders and cart. Its
  // product events go to webhooks in the transaction of the stock or product change.
  const inventory = createInventoryService({ platform, recordEvents: (tx, events) => webhooks.record(tx, events) });
  const catalog = createCatalogService({ platform, inventory });
  // Order events, consumed in the outbox relay's transaction: signed webhooks and customer mails
  // (unless ORDER_MAILS=false: the shop mails its customers itself).
  const { orderMails } = config.mail;
  const orderEventSinks: OrderEventSink[] = [
    {
      wants: (tx) => webhooks.wantsOrderEvents(tx),
      consume: (tx, events) => webhooks.record(tx, events.map((e) => ({ type: e.type, occurredAt: e.occurredAt, data: e.order }))),
    },
  ];
  if (orderMails) {
    orderEventSinks.push({
      wants: async () => true,
      consume: async (tx, events) => {
        await identity.queueCustomerMails(
          tx,
          events.flatMap((event) => {
            const compose = orderMail(event);
            return compose ? [{ userId: event.order.customer, compose }] : [];
          }),
        );
      },
    });
  }
  const orders = createOrdersService({
    platform,
    inventory,
    eventSinks: orderEventSinks,
    // Flash-sale mode: "received" at acceptance (the confirmed mail comes through the sinks above).
    queueReceivedMails: orderMails
      ? async (tx, accepted) => {
          await identity.queueCustomerMails(tx, accepted.map((order) => ({ userId: order.customer, compose: receivedMail(order) })));
        }
      : undefined,
    // Stock moved by a committed order: cached catalog pages must not show the old quantity.
    onStockChanged: () => catalog.bumpVersion(),
  });
  const cart = createCartService({ platform, inventory, orders });

  return {
    ...platform,
    identity,
    inventory,
    catalog,
    orders,
    cart,
    webhooks,
    async close() {
      await orders.close();
      webhooks.close();
      dependencies.close();
      mailer.close();
      await inventory.close();
      await kv.close();
      await db.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
