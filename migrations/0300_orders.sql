-- Orders: orders and their lines (name and price as they were when ordered), idempotency records
-- and the outbox. Orders refer to catalog products by id only (no foreign key across modules).
create table orders.orders (
  id uuid primary key,
  customer_id uuid not null,
  status text not null check (status in ('pending', 'confirmed', 'shipped', 'cancelled')),
  total_cents bigint not null check (total_cents >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- History: own orders newest first, id as the tie-break of equal timestamps.
create index orders_customer_created_idx on orders.orders (customer_id, created_at desc, id desc);

create table orders.order_lines (
  order_id uuid not null references orders.orders (id) on delete cascade,
  product_id uuid not null,
  name text not null,
  unit_price_cents bigint not null check (unit_price_cents >= 0),
  quantity integer not null check (quantity > 0),
  line_total_cents bigint not null check (line_total_cents >= 0),
  primary key (order_id, product_id)
);

-- One row per (customer, key). `in_progress` rows hold a short lease (expires_at) so a crashed
-- request cannot block its key forever; `done` rows keep the first response for replay.
create table orders.idempotency_keys (
  customer_id uuid not null,
  key text not null check (length(key) between 1 and 255),
  request_hash text not null,
  status text not null check (status in ('in_progress', 'done')),
  lease_token uuid not null,
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (customer_id, key)
);

create index idempotency_keys_expires_idx on orders.idempotency_keys (expires_at);

-- Written in the same transaction as the order change, relayed to the queue afterwards.
create table orders.outbox (
  id bigint generated always as identity primary key,
  topic text not null check (topic in ('order.created', 'order.cancelled', 'order.shipped')),
  payload jsonb not null,
  created_at timestamptz not null default now(),
  published_at timestamptz
);

create index outbox_unpublished_idx on orders.outbox (id) where published_at is null;
