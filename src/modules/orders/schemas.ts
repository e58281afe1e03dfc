/** Wire shapes of the orders API (snake_case, money as decimal strings) and their presenters. */
import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from '../../platform/ids.ts';
import { formatMoney, MAX_LINES_PER_ORDER, MAX_UNITS_PER_LINE, MONEY_PATTERN } from '../../platform/money.ts';
import { Page, PageQuery } from '../../platform/pagination.ts';
import type { Order } from './tables.ts';

export const MAX_ORDER_LINES = MAX_LINES_PER_ORDER;

const Uuid = Type.String({ pattern: UUID_PATTERN });
const Money = Type.String({ pattern: MONEY_PATTERN });

/**
 * Extra members (a client-sent `price` or `total`) are allowed so old clients keep working, and
 * never read: prices come from the catalog (invariant 6).
 */
export const PlaceOrderBody = Type.Object({
  order_items: Type.Array(
    Type.Object({
      product: Uuid,
      quantity: Type.Integer({
        minimum: 1,
        maximum: MAX_UNITS_PER_LINE,
        description: 'At most CART_MAX_UNITS_PER_LINE (default 20) units of a product per order, repeated lines summed; more → 400',
      }),
    }),
    { minItems: 1, maxItems: MAX_ORDER_LINES },
  ),
});
export type PlaceOrderBody = Static<typeof PlaceOrderBody>;

/** API.md: 1–255 printable characters. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' })),
});

export const OrderParams = Type.Object({ id: Uuid });
const Status = Type.Union([Type.Literal('pending'), Type.Literal('confirmed'), Type.Literal('shipped'), Type.Literal('cancelled')]);

export const OrdersQuery = Type.Object({
  limit: Type.Optional(PageQuery.limit),
  offset: Type.Optional(PageQuery.offset),
  status: Type.Optional(Status),
  customer: Type.Optional(Type.String({ pattern: UUID_PATTERN, description: "Staff: one customer's orders. A customer always sees only their own." })),
});

export const HourlyStatsQuery = Type.Object({
  // A calendar day (format: date refuses 2026-02-30) of the years 2000–2999: PostgreSQL refused
  // 0000-01-01 and the day after 9999-12-31 with a 500.
  date: Type.Optional(
    Type.String({ format: 'date', pattern: '^2[0-9]{3}-', description: 'A UTC day, YYYY-MM-DD, from 2000-01-01 to 2999-12-31; default today' }),
  ),
});

export const HourlyStats = Type.Object({
  date: Type.String(),
  hours: Type.Array(
    Type.Object({
      hour: Type.Integer({ minimum: 0, maximum: 23, description: 'Hour of the day, UTC' }),
      orders: Type.Integer({ description: 'Orders placed in that hour, cancelled ones left out' }),
      units: Type.Integer({ description: 'Units in those orders' }),
    }),
    { minItems: 24, maxItems: 24 },
  ),
});

export const OrderJson = Type.Object({
  id: Uuid,
  customer: Uuid,
  status: Status,
  total: Money,
  order_items: Type.Array(
    Type.Object({
      product: Uuid,
      name: Type.String(),
      quantity: Type.Integer(),
      price: Money,
      line_total: Money,
    }),
  ),
  created_at: Type.String({ format: 'date-time' }),
  /**
   * Null unless cancelled: by the customer, by staff, or (flash-sale mode) `out_of_stock`, or
   * `unprocessable` (the database refused the accepted order on every try).
   */
  cancel_reason: Type.Union([Type.Literal('customer'), Type.Literal('staff'), Type.Literal('out_of_stock'), Type.Literal('unprocessable'), Type.Null()]),
});
export type OrderJson = Static<typeof OrderJson>;

/** Flash-sale mode (ORDERS_MODE=async): accepted, not yet written; poll `Location` for the outcome. */
export const PendingOrder = Type.Object(OrderJson.properties, {
  description: 'Accepted (status pending): the order is written within about a second, then confirmed or cancelled (out_of_stock)',
  headers: { location: { type: 'string', description: 'The order: GET it to see pending → confirmed or cancelled' } },
});

export const OrderPage = Page(OrderJson);

export function presentOrder(order: Order): OrderJson {
  return {
    id: order.id,
    customer: order.customerId,
    status: order.status,
    total: formatMoney(order.totalCents),
    order_items: order.lines.map((line) => ({
      product: line.productId,
      name: line.name,
      quantity: line.quantity,
      price: formatMoney(line.unitPriceCents),
      line_total: formatMoney(line.lineTotalCents),
    })),
    created_at: order.createdAt.toISOString(),
    cancel_reason: order.cancelReason,
  };
}
