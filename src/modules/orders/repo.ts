/** SQL of the orders module; every function takes its executor (primary or a transaction) first. */
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { CancelReason, Order, OrderLine, OrderStatus } from './tables.ts';

export interface OrderRow {
  id: string;
  customer_id: string;
  status: OrderStatus;
  total_cents: number;
  cancel_reason: CancelReason | null;
  created_at: Date | string;
}

export interface LineRow {
  order_id: string;
  product_id: string;
  name: string;
  unit_price_cents: number;
  quantity: number;
  line_total_cents: number;
}

export type OutboxTopic = 'order.created' | 'order.confirmed' | 'order.cancelled' | 'order.shipped';

const uuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;

/**
 * The order, its lines and its `order.created` outbox record in one statement: one round trip
 * while the transaction holds the stock row locks.
 */
export async function insertOrder(tx: Db, order: Omit<Order, 'createdAt' | 'cancelReason'>, outboxPayload: unknown): Promise<Date> {
  const lines = order.lines.map((l) => ({
    product_id: l.productId,
    name: l.name,
    unit_price_cents: l.unitPriceCents,
    quantity: l.quantity,
    line_total_cents: l.lineTotalCents,
  }));
  const [row] = await queryRows<{ created_at: Date | string }>(
    tx,
    sql`with o as (
          insert into orders.orders (id, customer_id, status, total_cents)
          values (${order.id}, ${order.customerId}, ${order.status}, ${order.totalCents})
          returning created_at
        ), l as (
          insert into orders.order_lines (order_id, product_id, name, unit_price_cents, quantity, line_total_cents)
          select ${order.id}, x.product_id, x.name, x.unit_price_cents, x.quantity, x.line_total_cents
          from jsonb_to_recordset(${JSON.stringify(lines)}::jsonb)
            as x(product_id uuid, name text, unit_price_cents bigint, quantity integer, line_total_cents bigint)
        ), b as (
          insert into orders.outbox (topic, payload) values ('order.created', ${JSON.stringify(outboxPayload)}::jsonb)
        )
        select created_at from o`,
  );
  return new Date(row!.created_at);
}

/** An outbox record to write with a batch. */
export interface OutboxRecord {
  topic: OutboxTopic;
  payload: unknown;
}

/** A key's final state after a batch: `done` with the response to replay. */
export interface KeyDone {
  customerId: string;
  key: string;
  requestHash: string;
  status: number;
  body: unknown;
}

/** What a batch writes: its orders (with their lines), outbox records and key outcomes. */
export interface BatchWrite {
  orders: Order[];
  outbox: OutboxRecord[];
  keysDone: KeyDone[];
  dropKeys: Array<{ customerId: string; key: string }>;
  retentionSeconds: number;
}

const jsonb = (value: unknown) => sql`${JSON.stringify(value)}::jsonb`;

/**
 * The first statement of a batch's transaction (migrations/0350_orders_batch_trips.sql): locks the
 * products in id order (inventory's catalog.stock_lock), claims or locks the keys (`keys`: sorted,
 * idempotency.ts batchKeys), and reads the orders already under `check`. One jsonb back.
 */
export function batchBegin(input: {
  productIds: string[];
  keys: Array<{ customer_id: string; key: string; request_hash: string }>;
  batchToken: string;
  leaseSeconds: number;
  check: string[];
}) {
  return sql`select orders.batch_begin(${jsonb({
    product_ids: [...new Set(input.productIds)].sort(),
    keys: input.keys,
    batch_token: input.batchToken,
    lease_seconds: input.leaseSeconds,
    check: input.check,
  })}) as begun`;
}

/** The orders of `orders.batch_begin`'s answer, with their lines. */
export function ordersFromJson(orders: OrderRow[], lines: LineRow[]): Map<string, Order> {
  const byOrder = linesByOrder(lines);
  return new Map(orders.map((row) => [row.id, toOrder(row, byOrder.get(row.id) ?? [])]));
}

/**
 * The last statement of a batch's transaction: the orders, their lines, their outbox records and
 * the idempotency outcomes (multi-row inserts from JSON record sets), then `take` (inventory's
 * catalog.stock_take, summed per product in id order) — one round trip while the batch holds its
 * row locks, whatever the batch size. `dropKeys` are claims the batch made for requests it
 * refused (a refused request keeps no key). Answers what the take left each product at.
 */
export function batchFinish(batch: BatchWrite, take: Array<{ id: string; quantity: number }>) {
  const orders = batch.orders.map((o) => ({
    id: o.id,
    customer_id: o.customerId,
    status: o.status,
    total_cents: o.totalCents,
    cancel_reason: o.cancelReason,
    created_at: o.createdAt.toISOString(),
  }));
  const lines = batch.orders.flatMap((o) =>
    o.lines.map((l) => ({
      order_id: o.id,
      product_id: l.productId,
      name: l.name,
      unit_price_cents: l.unitPriceCents,
      quantity: l.quantity,
      line_total_cents: l.lineTotalCents,
    })),
  );
  const done = batch.keysDone.map((k) => ({ customer_id: k.customerId, key: k.key, request_hash: k.requestHash, status: k.status, body: k.body }));
  const dropped = batch.dropKeys.map((k) => ({ customer_id: k.customerId, key: k.key }));
  return sql`select orders.batch_finish(${jsonb({ orders, lines, outbox: batch.outbox, done, dropped, retention_seconds: batch.retentionSeconds, take })}) as taken`;
}

/** A batch's writes without a take, in the caller's transaction (flash-sale's poison orders). */
export async function writeBatch(tx: Db, batch: BatchWrite): Promise<void> {
  if (batch.orders.length + batch.keysDone.length + batch.dropKeys.length === 0) return;
  await tx.execute(batchFinish(batch, []));
}

/** The orders among `ids` that exist, with their lines. */
export async function findOrders(db: Db, ids: string[]): Promise<Map<string, Order>> {
  const found = new Map<string, Order>();
  if (ids.length === 0) return found;
  const rows = await queryRows<OrderRow>(
    db,
    sql`select id, customer_id, status, total_cents, cancel_reason, created_at from orders.orders where id = any(${uuidArray(ids)})`,
  );
  const lines = await linesOf(db, rows.map((r) => r.id));
  for (const row of rows) found.set(row.id, toOrder(row, lines.get(row.id) ?? []));
  return found;
}

export async function insertOutbox(tx: Db, topic: OutboxTopic, payload: unknown): Promise<void> {
  await tx.execute(sql`insert into orders.outbox (topic, payload) values (${topic}, ${JSON.stringify(payload)}::jsonb)`);
}

export async function findOrder(db: Db, id: string): Promise<Order | undefined> {
  const [row] = await queryRows<OrderRow>(
    db,
    sql`select id, customer_id, status, total_cents, cancel_reason, created_at from orders.orders where id = ${id}`,
  );
  if (!row) return undefined;
  const lines = await linesOf(db, [row.id]);
  return toOrder(row, lines.get(row.id) ?? []);
}

export interface OrderFilter {
  /** Only this customer's orders (a customer's own history always sets it). */
  customerId?: string | undefined;
  status?: OrderStatus | undefined;
}

/**
 * Orders newest first, id as the tie-break. A customer's history is served by
 * orders_customer_created_idx; the staff list over every customer by the indexes of
 * migrations/0320_orders_staff_list.sql ((status, created_at, id) and (created_at, id)).
 */
export async function listOrders(db: Db, filter: OrderFilter, limit: number, offset: number): Promise<{ count: number; orders: Order[] }> {
  const conditions = [
    ...(filter.customerId === undefined ? [] : [sql`customer_id = ${filter.customerId}`]),
    ...(filter.status === undefined ? [] : [sql`status = ${filter.status}`]),
  ];
  const where = conditions.length === 0 ? sql`` : sql`where ${sql.join(conditions, sql` and `)}`;
  const [rows, [counted]] = await Promise.all([
    queryRows<OrderRow>(
      db,
      sql`select id, customer_id, status, total_cents, cancel_reason, created_at from orders.orders ${where}
          order by created_at desc, id desc limit ${limit} offset ${offset}`,
    ),
    queryRows<{ count: number }>(db, sql`select count(*) as count from orders.orders ${where}`),
  ]);
  const lines = await linesOf(db, rows.map((r) => r.id));
  return { count: Number(counted?.count ?? 0), orders: rows.map((r) => toOrder(r, lines.get(r.id) ?? [])) };
}

async function linesOf(db: Db, orderIds: string[]): Promise<Map<string, OrderLine[]>> {
  if (orderIds.length === 0) return new Map();
  const rows = await queryRows<LineRow>(
    db,
    sql`select order_id, product_id, name, unit_price_cents, quantity, line_total_cents
        from orders.order_lines where order_id = any(${uuidArray(orderIds)}) order by order_id, product_id`,
  );
  return linesByOrder(rows);
}

/** Lines (ordered by order, then product) grouped by order. */
function linesByOrder(rows: LineRow[]): Map<string, OrderLine[]> {
  const byOrder = new Map<string, OrderLine[]>();
  for (const r of rows) {
    const list = byOrder.get(r.order_id) ?? [];
    list.push({
      productId: r.product_id,
      name: r.name,
      unitPriceCents: Number(r.unit_price_cents),
      quantity: r.quantity,
      lineTotalCents: Number(r.line_total_cents),
    });
    byOrder.set(r.order_id, list);
  }
  return byOrder;
}

/**
 * Moves an order from one of `from` to `to` only if it is still there: the status check and the
 * change are one statement, so two cancels cannot both succeed (and restock twice).
 */
export async function transitionStatus(
  tx: Db,
  id: string,
  from: OrderStatus[],
  to: OrderStatus,
  cancelReason: CancelReason | null = null,
): Promise<Order | undefined> {
  const [row] = await queryRows<OrderRow>(
    tx,
    sql`update orders.orders set status = ${to}, cancel_reason = ${cancelReason}, updated_at = now()
        where id = ${id} and status = any(${`{${from.join(',')}}`}::text[])
        returning id, customer_id, status, total_cents, cancel_reason, created_at`,
  );
  if (!row) return undefined;
  const lines = await linesOf(tx, [row.id]);
  return toOrder(row, lines.get(row.id) ?? []);
}

function toOrder(row: OrderRow, lines: OrderLine[]): Order {
  return {
    id: row.id,
    customerId: row.customer_id,
    status: row.status,
    totalCents: Number(row.total_cents),
    createdAt: new Date(row.created_at),
    cancelReason: row.cancel_reason,
    lines,
  };
}

export interface OutboxRow {
  id: number;
  topic: OutboxTopic;
  payload: unknown;
  created_at: Date | string;
}

/**
 * Flash-sale mode's "received" mails against the relay that queues the same orders' first mail
 * (flash-sale/received-mails.ts): a flush holds this lock while it reads which of its orders are
 * relayed and queues the others' mails; a relay takes it shared (relays still run side by side)
 * before it queues mails, so each waits for the other: a flush either sees the order relayed or
 * commits its "received" mail before the relay queues the confirmed one.
 */
const RECEIVED_MAILS_LOCK = 7_263_025;
export async function lockForReceivedMails(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${RECEIVED_MAILS_LOCK})`);
}
export async function shareLockForReceivedMails(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${RECEIVED_MAILS_LOCK})`);
}

/**
 * Which of `ids` are written and their `order.created` record relayed: their confirmed (or
 * cancelled) mail is queued already. The unpublished records are few and indexed (one scan).
 */
export async function relayedOrderIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await queryRows<{ id: string }>(
    db,
    sql`select o.id::text as id from orders.orders o
        where o.id = any(${uuidArray(ids)})
          and o.id::text not in (select b.payload->>'order_id' from orders.outbox b
                                 where b.published_at is null and b.topic = 'order.created')`,
  );
  return new Set(rows.map((r) => r.id));
}

/** Unpublished records, oldest first; SKIP LOCKED lets several relays run without waiting on each other. */
export async function lockUnpublished(tx: Db, limit: number): Promise<OutboxRow[]> {
  return queryRows<OutboxRow>(
    tx,
    sql`select id, topic, payload, created_at from orders.outbox where published_at is null
        order by id limit ${limit} for update skip locked`,
  );
}

export async function markPublished(tx: Db, ids: number[]): Promise<void> {
  await tx.execute(sql`update orders.outbox set published_at = now() where id = any(${`{${ids.join(',')}}`}::bigint[])`);
}

export async function purgePublishedOutbox(db: Db, olderThanSeconds: number): Promise<number> {
  const rows = await queryRows<{ id: number }>(
    db,
    sql`delete from orders.outbox where published_at < now() - make_interval(secs => ${olderThanSeconds}) returning id`,
  );
  return rows.length;
}

export interface HourCount {
  hour: number;
  orders: number;
  units: number;
}

/**
 * Orders and units per hour (UTC) in [from, to), cancelled orders left out: what was sold.
 * Reads one day's range of the created_at index (migrations/0320_orders_staff_list.sql).
 */
export async function hourlyCounts(db: Db, from: Date, to: Date): Promise<HourCount[]> {
  const rows = await queryRows<{ hour: number; orders: number; units: number }>(
    db,
    sql`select extract(hour from o.created_at at time zone 'UTC')::int as hour,
               count(distinct o.id)::int as orders, coalesce(sum(l.quantity), 0)::int as units
        from orders.orders o join orders.order_lines l on l.order_id = o.id
        where o.created_at >= ${from.toISOString()}::timestamptz and o.created_at < ${to.toISOString()}::timestamptz
          and o.status <> 'cancelled'
        group by 1 order by 1`,
  );
  return rows.map((r) => ({ hour: Number(r.hour), orders: Number(r.orders), units: Number(r.units) }));
}
