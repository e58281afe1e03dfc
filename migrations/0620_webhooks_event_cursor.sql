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
