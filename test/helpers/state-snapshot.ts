/**
 * A fingerprint of everything a refused request must not change: every row of the tables that
 * hold users, products and their stock, categories, orders and their lines, idempotency records,
 * the outbox and refresh tokens (whole rows, so columns added later are covered too), plus the
 * carts of the users given. Two equal snapshots mean nothing a client could see has changed.
 */
import { queryRows, sql } from '../../src/platform/db.ts';
import type { TestApp } from './test-app.ts';

const TABLES = [
  'identity.users',
  'identity.refresh_tokens',
  'catalog.categories',
  'catalog.products',
  'orders.orders',
  'orders.order_lines',
  'orders.idempotency_keys',
  'orders.outbox',
] as const;

type Row = { name: string; rows: number; digest: string };

export interface Snapshot {
  tables: Record<string, { rows: number; digest: string }>;
  carts: Record<string, unknown>;
}

export async function snapshot(t: TestApp, cartOwners: string[] = []): Promise<Snapshot> {
  // One statement for all tables, and an order-free sum of row hashes (no sort): a snapshot is
  // taken after every fuzzed request. On PGlite through exec (the simple protocol), ten times
  // cheaper there than a prepared query.
  const text = TABLES.map(
    (table) => `select '${table}' as name, count(*)::int as rows, coalesce(sum(hashtextextended(t::text, 0)), 0)::text as digest from ${table} t`,
  ).join(' union all ');
  const raw = t.services.db.raw;
  const rows = raw.kind === 'pglite' ? ((await raw.client.exec(text))[0]!.rows as Row[]) : (await raw.pool.query<Row>(text)).rows;
  const tables: Snapshot['tables'] = {};
  for (const row of rows) tables[row.name] = { rows: row.rows, digest: row.digest };
  const carts: Snapshot['carts'] = {};
  for (const owner of cartOwners) carts[owner] = await t.services.cart.getCart(owner);
  return { tables, carts };
}

/** Stock and order counts, the figures a reader checks first when a snapshot differs. */
export async function stockAndOrders(t: TestApp): Promise<{ stock: number; orders: number }> {
  const [row] = await queryRows<{ stock: number; orders: number }>(
    t.services.db.primary,
    sql`select (select coalesce(sum(stock), 0)::int from catalog.products) as stock, (select count(*)::int from orders.orders) as orders`,
  );
  return row!;
}
