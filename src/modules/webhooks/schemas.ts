/** Wire shapes of the webhooks API and of the events it sends, and their presenters. */
import { Type, type Static, type TSchema } from 'typebox';
import { UUID_PATTERN } from '../../platform/ids.ts';
import { Page, PageQuery } from '../../platform/pagination.ts';
import type { Delivery, Subscription } from './repo.ts';

const Uuid = Type.String({ pattern: UUID_PATTERN });

export const EVENT_TYPES = ['order.created', 'order.confirmed', 'order.cancelled', 'order.shipped', 'inventory.low_stock', 'product.updated'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const EventName = Type.Union([
  Type.Literal('order.created'),
  Type.Literal('order.confirmed'),
  Type.Literal('order.cancelled'),
  Type.Literal('order.shipped'),
  Type.Literal('inventory.low_stock'),
  Type.Literal('product.updated'),
  Type.Literal('*'),
]);
const TargetUrl = Type.String({ minLength: 8, maxLength: 2000, pattern: '^[hH][tT][tT][pP][sS]?://', description: 'http(s) URL the events are POSTed to' });
const Events = Type.Array(EventName, { minItems: 1, maxItems: EVENT_TYPES.length + 1, uniqueItems: true, description: 'event types, or ["*"] for all' });
const Description = Type.String({ maxLength: 500 });

export const SubscriptionParams = Type.Object({ id: Uuid });
export const DeliveryParams = Type.Object({ id: Uuid, delivery_id: Uuid });
export const PageParams = Type.Object({ limit: Type.Optional(PageQuery.limit), offset: Type.Optional(PageQuery.offset) });

export const CreateSubscriptionBody = Type.Object(
  { url: TargetUrl, events: Events, description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type CreateSubscriptionBody = Static<typeof CreateSubscriptionBody>;

export const UpdateSubscriptionBody = Type.Object(
  { url: Type.Optional(TargetUrl), events: Type.Optional(Events), description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateSubscriptionBody = Static<typeof UpdateSubscriptionBody>;

export const SubscriptionJson = Type.Object({
  id: Uuid,
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.String(),
  enabled: Type.Boolean(),
  disabled_reason: Type.Union([Type.String(), Type.Null()], { description: 'why the service disabled it (failing deliveries); null when enabled or disabled by staff' }),
  created_at: Type.String({ format: 'date-time' }),
  last_delivery: Type.Union(
    [Type.Object({ status: Type.String(), response_status: Type.Union([Type.Integer(), Type.Null()]), created_at: Type.String({ format: 'date-time' }) }), Type.Null()],
    { description: 'the newest finished attempt (health at a glance); null before the first' },
  ),
});
export type SubscriptionJson = Static<typeof SubscriptionJson>;

const Secret = Type.String({ pattern: '^whsec_', description: 'signing secret (Standard Webhooks): shown only here' });
export const CreatedSubscription = Type.Object({ ...SubscriptionJson.properties, secret: Secret });
export const RotatedSecret = Type.Object({
  secret: Secret,
  previous_secret_expires_at: Type.String({ format: 'date-time', description: 'until then the old secret signs too' }),
});
export const SubscriptionPage = Page(SubscriptionJson);

export const DeliveryJson = Type.Object({
  id: Uuid,
  event_id: Type.String({ description: 'the webhook-id header: the same for every attempt of one event' }),
  type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('sending'), Type.Literal('succeeded'), Type.Literal('failed')], {
    description:
      'succeeded or failed: an attempt made (an event\'s first attempt is listed once it has been made); pending or sending: a retry or a redelivery, scheduled or in flight',
  }),
  attempt: Type.Integer(),
  response_status: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  response_excerpt: Type.Union([Type.String(), Type.Null()], { description: 'the start of the answer body, at most 1 KiB' }),
  created_at: Type.String({ format: 'date-time' }),
  next_attempt_at: Type.String({ format: 'date-time' }),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type DeliveryJson = Static<typeof DeliveryJson>;
export const DeliveryPage = Page(DeliveryJson);

export function presentSubscription(s: Subscription): SubscriptionJson {
  return {
    id: s.id,
    url: s.url,
    events: s.events,
    description: s.description,
    enabled: s.enabled,
    disabled_reason: s.disabledReason,
    created_at: s.createdAt.toISOString(),
    last_delivery: s.lastDelivery
      ? { status: s.lastDelivery.status, response_status: s.lastDelivery.responseStatus, created_at: s.lastDelivery.createdAt.toISOString() }
      : null,
  };
}

export function presentDelivery(d: Delivery): DeliveryJson {
  return {
    id: d.id,
    event_id: d.eventId,
    type: d.type,
    status: d.status,
    attempt: d.attempt,
    response_status: d.responseStatus,
    duration_ms: d.durationMs,
    response_excerpt: d.responseExcerpt,
    created_at: d.createdAt.toISOString(),
    next_attempt_at: d.nextAttemptAt.toISOString(),
    error: d.error,
  };
}

/**
 * The OpenAPI document's `webhooks` section: one POST per event type, its body `{type, timestamp,
 * data}` with `data` in the shape the API presents that resource. The shapes come from the modules
 * that own them (app.ts hands them in), so the document cannot drift from the routes.
 */
export function webhooksDocument(data: Partial<Record<EventType, TSchema>>): Record<string, never> {
  const headers = {
    'webhook-id': { required: true, schema: { type: 'string' }, description: 'the event id: the same on every attempt; deduplicate by it' },
    'webhook-timestamp': { required: true, schema: { type: 'string' }, description: 'Unix seconds when this attempt was signed' },
    'webhook-signature': {
      required: true,
      schema: { type: 'string' },
      description: 'space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`; two during a secret rotation',
    },
  };
  // The document's own types want its path-item type; this is that shape, built from plain objects.
  return Object.fromEntries(
    Object.entries(data).map(([type, schema]) => [
      type,
      {
        post: {
          summary: `${type} event`,
          parameters: Object.entries(headers).map(([name, h]) => ({ name, in: 'header', ...h })),
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', required: ['type', 'timestamp', 'data'], properties: { type: { const: type }, timestamp: { type: 'string', format: 'date-time' }, data: schema } },
              },
            },
          },
          responses: { '2XX': { description: 'received; anything else (or no answer within the timeout) is retried' } },
        },
      },
    ]),
  ) as Record<string, never>;
}
