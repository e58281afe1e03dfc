/**
 * A fingerprint of everything a refused request must not change: every row of the tables that
 * hold users, products and their stock, categories, orders and their lines, idempotency records,
 * the outbox and refresh tokens (whole rows, so columns added later are covered too), plus the
 * carts of the users given. Two equal snapshots mean nothing a client could see has changed.
 */
import { queryRows, sql } from '../../src/platform/db.ts';
import type { TestApp } from './test-app.ts';

export const TABLES = [
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

/**
 * The same fingerprint kept up to date by triggers, for callers that check thousands of requests
 * (the fuzz suite): each row written adds its hash to its table's sum and each row removed takes
 * it away (an update does both), so a table's figures are always its row count and the sum of
 * its rows' hashes, as `snapshot` computes them, and reading them back is one small query instead
 * of every row hashed. A change undone later (a row inserted, then deleted) leaves them as they
 * were, as it leaves the table; a rolled-back one never happened. Installed on `t`'s own database.
 */
export async function watchChanges(t: TestApp): Promise<{ read(): Promise<Record<string, string>> }> {
  const setup = [
    'create schema if not exists fuzz_watch',
    'create table if not exists fuzz_watch.tables (name text primary key, rows bigint not null, digest numeric not null)',
    `create or replace function fuzz_watch.track() returns trigger language plpgsql as $$
       declare table_name text := tg_table_schema || '.' || tg_table_name;
       begin
         if tg_op in ('UPDATE', 'DELETE') then
           update fuzz_watch.tables set rows = rows - 1, digest = digest - hashtextextended(old::text, 0) where name = table_name;
         end if;
         if tg_op in ('UPDATE', 'INSERT') then
           update fuzz_watch.tables set rows = rows + 1, digest = digest + hashtextextended(new::text, 0) where name = table_name;
         end if;
         return null;
       end $$`,
    `create or replace function fuzz_watch.emptied() returns trigger language plpgsql as $$
       begin update fuzz_watch.tables set rows = 0, digest = 0 where name = tg_table_schema || '.' || tg_table_name; return null; end $$`,
    ...TABLES.flatMap((table) => {
      const name = table.replace('.', '_');
      return [
        `insert into fuzz_watch.tables select '${table}', count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) from ${table} t on conflict do nothing`,
        `create or replace trigger fuzz_watch_${name} after insert or update or delete on ${table} for each row execute function fuzz_watch.track()`,
        `create or replace trigger fuzz_watch_${name}_truncate after truncate on ${table} for each statement execute function fuzz_watch.emptied()`,
      ];
    }),
  ];
  const raw = t.services.db.raw;
  const run = async (text: string) =>
    (raw.kind === 'pglite' ? ((await raw.client.exec(text))[0]?.rows ?? []) : (await raw.pool.query(text)).rows) as Array<{ name: string; figures: string }>;
  for (const statement of setup) await run(statement);
  return {
    // Per table, so a difference names where rows changed.
    read: async () => Object.fromEntries((await run(`select name, rows || ' ' || digest as figures from fuzz_watch.tables`)).map((row) => [row.name, row.figures])),
  };
}
