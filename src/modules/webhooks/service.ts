/**
 * The webhooks service: staff manage subscriptions; events recorded in the outbox relay's
 * transaction (never dropped); the delivery loop (delivery.ts) sends them, signed, at least once.
 */
import { randomBytes } from 'node:crypto';
import { notFound } from '../../platform/errors.ts';
import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import type { Platform } from '../../platform/platform.ts';
import { createDeliveryLoop } from './delivery.ts';
import * as repo from './repo.ts';
import { EVENT_TYPES, presentDelivery, presentSubscription, type CreateSubscriptionBody, type EventType, type UpdateSubscriptionBody } from './schemas.ts';
import { createSender } from './send.ts';

/** After a rotation the old secret keeps signing this long, so receivers switch at their own pace. */
const ROTATION_OVERLAP_SECONDS = 24 * 3600;
const EVENT_RETENTION_SECONDS = 30 * 24 * 3600;

/** An event to deliver: `data` is the resource as the API presented it when the event happened. */
export interface WebhookEvent {
  type: EventType;
  occurredAt: Date;
  data: unknown;
}

const ORDER_EVENT_TYPES = EVENT_TYPES.filter((t) => t.startsWith('order.'));

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export function createWebhooksService(deps: { platform: Platform }) {
  const { db, logger, config } = deps.platform;
  const sender = createSender({ allowPrivateTargets: config.webhooks.allowPrivateTargets, timeoutMs: config.webhooks.timeoutMs, userAgent: 'opply-commerce-webhooks/1' });
  const loop = createDeliveryLoop({ db, logger, sender, settings: config.webhooks });

  async function getSubscription(id: string) {
    const found = await repo.findSubscription(db.primary, id);
    if (!found) throw notFound('Subscription');
    return presentSubscription(found);
  }

  return {
    publicUrl: config.http.publicUrl,

    async createSubscription(body: CreateSubscriptionBody) {
      const id = newId();
      const secret = newSecret();
      await repo.insertSubscription(db.primary, { id, url: body.url, events: body.events, description: body.description ?? '', enabled: body.enabled ?? true, secret });
      return { ...(await getSubscription(id)), secret };
    },
    async listSubscriptions(limit: number, offset: number) {
      const page = await repo.listSubscriptions(db.primary, limit, offset);
      return { count: page.count, results: page.rows.map(presentSubscription) };
    },
    getSubscription,
    async updateSubscription(id: string, body: UpdateSubscriptionBody) {
      if (!(await repo.updateSubscription(db.primary, id, body))) throw notFound('Subscription');
      return getSubscription(id);
    },
    async deleteSubscription(id: string) {
      if (!(await repo.deleteSubscription(db.primary, id))) throw notFound('Subscription');
    },
    async rotateSecret(id: string) {
      const secret = newSecret();
      const expires = await repo.rotateSecret(db.primary, id, secret, ROTATION_OVERLAP_SECONDS);
      if (!expires) throw notFound('Subscription');
      return { secret, previous_secret_expires_at: expires.toISOString() };
    },
    async listDeliveries(subscriptionId: string, limit: number, offset: number) {
      await getSubscription(subscriptionId);
      const page = await repo.listDeliveries(db.primary, subscriptionId, limit, offset);
      return { count: page.count, results: page.rows.map(presentDelivery) };
    },
    /** Sends the event of that attempt again, as a new attempt with the same webhook-id. */
    async redeliver(subscriptionId: string, deliveryId: string) {
      const id = newId();
      if (!(await repo.redeliver(db.primary, subscriptionId, deliveryId, id))) throw notFound('Delivery');
      return { id };
    },

    /**
     * Whether an enabled subscription wants order events now, in the caller's transaction: the
     * relay builds no order snapshots when none does (and no mails are sent), as `record` would
     * keep none of them.
     */
    wantsOrderEvents: (tx: Db) => repo.anyWants(tx, ORDER_EVENT_TYPES),

    /** Records events in the caller's transaction when a subscription wants them; its cursor brings them to their first attempt. */
    async record(tx: Db, events: WebhookEvent[]) {
      await repo.insertEvents(
        tx,
        events.map((e) => ({ id: newId(), type: e.type, payload: e.data, created_at: e.occurredAt.toISOString() })),
      );
    },

    /** The delivery loop: started by the worker (or the API in embedded mode), stopped before the pools close. */
    startDelivery: () => loop.start(),
    stopDelivery: () => loop.stop(),
    /** Ends the delivery loop's idle pause (the relay just recorded events in this process). */
    wakeDelivery: () => loop.wake(),
    /** One claim round (tests drive it step by step). */
    deliverDue: () => loop.runOnce(),
    /** Background job: events past their retention, with their delivery log, once nothing is pending. */
    purgeOldEvents: () => repo.purgeOldEvents(db.primary, EVENT_RETENTION_SECONDS),
    close: () => sender.close(),
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
