-- Webhooks: subscriptions, the events they may receive, and deliveries. A delivery row is one
-- attempt to send one event to one subscription: the pending ones are the queue (claimed with
-- FOR UPDATE SKIP LOCKED, so any number of workers share it, and PGlite runs it too), the finished
-- ones are the log staff read. A failed attempt schedules the next as a new row.
create schema if not exists webhooks;

create table webhooks.subscriptions (
  id uuid primary key,
  url text not null,
  events text[] not null,
  description text not null default '',
  enabled boolean not null default true,
  disabled_reason text,
  secret text not null,
  -- After a rotation the previous secret also signs until it expires (Standard Webhooks lets a
  -- signature header carry several signatures, so receivers switch over at their own pace).
  previous_secret text,
  previous_secret_expires_at timestamptz,
  consecutive_failures integer not null default 0,
  failing_since timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- An event as it was when it happened: its payload is what every delivery of it sends.
create table webhooks.events (
  id uuid primary key,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);

create table webhooks.deliveries (
  id uuid primary key,
  subscription_id uuid not null references webhooks.subscriptions (id) on delete cascade,
  event_id uuid not null references webhooks.events (id) on delete cascade,
  attempt integer not null check (attempt >= 1),
  status text not null check (status in ('pending', 'sending', 'succeeded', 'failed')),
  next_attempt_at timestamptz not null default now(),
  -- While `sending`: the claim's lease; a worker killed mid-send leaves the row to be claimed again.
  locked_until timestamptz,
  response_status integer,
  response_excerpt text,
  duration_ms integer,
  error text,
  created_at timestamptz not null default now(),
  finished_at timestamptz
);

create index deliveries_due_idx on webhooks.deliveries (next_attempt_at) where status in ('pending', 'sending');
create index deliveries_subscription_idx on webhooks.deliveries (subscription_id, created_at desc, id desc);
create index deliveries_event_idx on webhooks.deliveries (event_id);
