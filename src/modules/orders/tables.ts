/** The orders module's tables (schema `orders`, migrations/0300_orders.sql); types for the repo. */
import { bigint, integer, jsonb, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const ordersSchema = pgSchema('orders');

export const ORDER_STATUSES = ['pending', 'confirmed', 'shipped', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const CANCEL_REASONS = ['customer', 'staff', 'out_of_stock', 'unprocessable'] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

export const orders = ordersSchema.table('orders', {
  id: uuid('id').primaryKey(),
  customerId: uuid('customer_id').notNull(),
  status: text('status', { enum: ORDER_STATUSES }).notNull(),
  totalCents: bigint('total_cents', { mode: 'number' }).notNull(),
  cancelReason: text('cancel_reason', { enum: CANCEL_REASONS }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const orderLines = ordersSchema.table(
  'order_lines',
  {
    orderId: uuid('order_id').notNull(),
    productId: uuid('product_id').notNull(),
    name: text('name').notNull(),
    unitPriceCents: bigint('unit_price_cents', { mode: 'number' }).notNull(),
    quantity: integer('quantity').notNull(),
    lineTotalCents: bigint('line_total_cents', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.productId] })],
);

export const idempotencyKeys = ordersSchema.table(
  'idempotency_keys',
  {
    customerId: uuid('customer_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: text('status', { enum: ['in_progress', 'done'] }).notNull(),
    leaseToken: uuid('lease_token').notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.customerId, t.key] })],
);

export const outbox = ordersSchema.table('outbox', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  topic: text('topic', { enum: ['order.created', 'order.confirmed', 'order.cancelled', 'order.shipped'] }).notNull(),
  payload: jsonb('payload').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  publishedAt: timestamp('published_at', { withTimezone: true }),
});

export interface OrderLine {
  productId: string;
  name: string;
  unitPriceCents: number;
  quantity: number;
  lineTotalCents: number;
}

export interface Order {
  id: string;
  customerId: string;
  status: OrderStatus;
  totalCents: number;
  createdAt: Date;
  /** Null unless cancelled. */
  cancelReason: CancelReason | null;
  lines: OrderLine[];
}
