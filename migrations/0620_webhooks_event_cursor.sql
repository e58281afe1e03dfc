-- First attempts from a cursor. Each subscription keeps how far through the events it has
-- delivered (`cursor`, an event `seq`) and a lease on that position while a worker sends the
-- next batch; an attempt's row in webhooks.deliveries is written once, when it has been made
-- (succeeded or failed), not inserted pending, claimed and rewritten. Retries and manual
-- redeliveries stay pending rows, claimed as before. Per order event and subscription that is one
-- row written instead of three versions of it (bench:webhooks, docs/benchmarks.md).
--
-- `seq` is given under an advisory lock held to the inserting transaction's end (repo.ts,
-- insertEvents), so events commit in `seq` order and a cursor never passes one still to come.
alter table webhooks.events add column seq bigint generated always as identity;
create unique index events_seq_key on webhooks.events (seq);

alter table webhooks.subscriptions
  add column cursor bigint not null default 0,
  add column cursor_locked_until timestamptz;

-- Existing subscriptions start after the events already recorded: their pending first attempts
-- are rows already, and are claimed as rows.
update webhooks.subscriptions set cursor = coalesce((select max(seq) from webhooks.events), 0);

-- No foreign keys from the attempts: each check takes a KEY SHARE lock on the parent row, which
-- PostgreSQL writes into that row — the same event's row locked by every subscription's batch,
-- in as many transactions (a MultiXact each), and the subscription's row by every attempt. Measured
-- with pg_stat_statements on bench:webhooks: 62,000 such checks, the attempts' insert ~72 µs a row.
-- Only this module writes the table; it deletes a subscription's attempts with it, and an event's
-- with the event (repo.ts: deleteSubscription, purgeOldEvents).
alter table webhooks.deliveries
  drop constraint deliveries_subscription_id_fkey,
  drop constraint deliveries_event_id_fkey;
