-- The delivery loop's statements as functions (src/modules/webhooks/repo.ts calls them): the same
-- SQL, run by PL/pgSQL, which keeps each statement's plan for the session. Sent as text, the
-- lease, the batch's record and the retries' claim were parsed, analysed and planned on every call:
-- pg_stat_statements on bench:webhooks put planning alone at a quarter of their time, and the
-- retries' claim, which a busy loop runs each round and which mostly finds nothing, at nine
-- tenths. Same statements, same locks, same results.

-- Records events in the caller's transaction when an enabled subscription wants them (an event
-- no enabled subscription wants is not kept). The advisory lock, held to the transaction's end,
-- makes events commit in `seq` order, so a cursor that has read `seq` n has seen every event
-- below n that will ever commit (migration 0620).
create or replace function webhooks.insert_events(new_events jsonb) returns void
language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock(7263060);
  insert into webhooks.events (id, type, payload, created_at)
  select x.id, x.type, x.payload, x.created_at from jsonb_to_recordset(new_events)
    as x(id uuid, type text, payload jsonb, created_at timestamptz)
  where exists (select 1 from webhooks.subscriptions s where s.enabled and (s.events @> array[x.type] or s.events @> array['*']))
  order by x.created_at;
end $$;

-- Leases up to `max_subscriptions` enabled subscriptions with events past their cursor (none
-- leased by another worker; SKIP LOCKED) for `lease_seconds`, with up to `batch` events each. One
-- row per (subscription, event); an event's payload on its first wanted row only.
create or replace function webhooks.lease_cursors(max_subscriptions integer, batch integer, lease_seconds double precision)
returns table (subscription_id uuid, from_cursor bigint, sub_url text, sub_secret text, sub_previous_secret text,
               event_seq bigint, wanted boolean, event_id uuid, event_type text, event_at timestamptz, payload text)
language plpgsql volatile as $$
#variable_conflict use_column
begin
  return query
  with due as (
    select s.id from webhooks.subscriptions s
    where s.enabled and (s.cursor_locked_until is null or s.cursor_locked_until < now())
      and exists (select 1 from webhooks.events e where e.seq > s.cursor)
    order by s.cursor limit max_subscriptions
    for update skip locked
  ), leased as (
    update webhooks.subscriptions s set cursor_locked_until = now() + make_interval(secs => lease_seconds)
    from due where s.id = due.id
    returning s.id, s.cursor, s.events, s.url, s.secret,
              case when s.previous_secret_expires_at > now() then s.previous_secret end as previous_secret
  )
  select l.id, l.cursor, l.url, l.secret, l.previous_secret, b.seq, b.wanted, b.id, b.type, b.created_at,
         case when b.wanted and row_number() over (partition by b.id, b.wanted order by l.id) = 1 then b.payload::text end
  from leased l cross join lateral (
    select e.seq, e.id, e.type, e.created_at, e.payload, (l.events @> array[e.type] or l.events @> array['*']) as wanted
    from webhooks.events e where e.seq > l.cursor order by e.seq limit batch
  ) b
  order by l.id, b.seq;
end $$;

-- Records a leased batch's first attempts (`attempts`: [{id, event_id, status, response_status,
-- response_excerpt, duration_ms, error, retry_id, retry_in}]), one row each, a pending retry for
-- each failed one that has one left, and moves the cursor past the batch, ending the lease. The
-- failure streak: any success ends it; failures alone lengthen it and disable the subscription
-- past either threshold, `reason` (the last failure) in the reason shown.
create or replace function webhooks.record_batch(subscription uuid, to_seq bigint, attempts jsonb, successes integer, failures integer,
                                                 reason text, after_failures integer, after_seconds integer)
returns void
language plpgsql volatile as $$
#variable_conflict use_column
begin
  with x as (
    select * from jsonb_to_recordset(attempts)
      as x(id uuid, event_id uuid, status text, response_status integer, response_excerpt text, duration_ms integer,
           error text, retry_id uuid, retry_in double precision)
  )
  insert into webhooks.deliveries (id, subscription_id, event_id, attempt, status, next_attempt_at, response_status,
                                   response_excerpt, duration_ms, error, created_at, finished_at)
  select x.id, subscription, x.event_id, 1, x.status, now(), x.response_status, x.response_excerpt, x.duration_ms,
         x.error, now(), now() from x
  union all
  select x.retry_id, subscription, x.event_id, 2, 'pending', now() + make_interval(secs => x.retry_in),
         null, null, null, null, now(), null from x where x.retry_id is not null;

  -- The disabling test, once, on the row's values before this update (as SET sees them).
  update webhooks.subscriptions s set
    cursor = greatest(s.cursor, to_seq), cursor_locked_until = null,
    consecutive_failures = case when successes > 0 then 0 else s.consecutive_failures + failures end,
    failing_since = case when successes > 0 then null when failures > 0 then coalesce(s.failing_since, now()) else s.failing_since end,
    (enabled, updated_at, disabled_reason) = (
      select case when d.disabling then false else s.enabled end,
             case when d.disabling then now() else s.updated_at end,
             case when d.disabling
               then format('deliveries failed %s times in a row since %s; last error: %s', s.consecutive_failures + failures,
                           to_char(coalesce(s.failing_since, now()) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), reason)
               else s.disabled_reason end
      from (select successes = 0 and failures > 0 and s.enabled
                   and (s.consecutive_failures + failures >= after_failures
                        or coalesce(s.failing_since, now()) <= now() - make_interval(secs => after_seconds)) as disabling) d
    )
  where s.id = subscription;
end $$;

-- Takes due retries and redeliveries for one attempt each: pending ones, and ones whose sender's
-- lease ran out. Per enabled subscription: its free slots (`concurrency` minus live leases), then
-- that many of its oldest due rows, skipping rows another worker holds.
create or replace function webhooks.claim_due(max_rows integer, concurrency integer, lease_seconds double precision)
returns table (delivery_id uuid, subscription_id uuid, event_id uuid, attempt integer, event_type text, event_at timestamptz,
               payload text, sub_url text, sub_secret text, sub_previous_secret text)
language plpgsql volatile as $$
#variable_conflict use_column
begin
  return query
  with picked as (
    select due.id from webhooks.subscriptions s
    cross join lateral (
      select concurrency - count(*)::int as free from webhooks.deliveries f
      where f.subscription_id = s.id and f.status = 'sending' and f.locked_until >= now()
    ) slots
    cross join lateral (
      select d.id, d.next_attempt_at from webhooks.deliveries d
      where d.subscription_id = s.id and d.status in ('pending', 'sending') and d.next_attempt_at <= now()
        and (d.status = 'pending' or d.locked_until < now())
      order by d.next_attempt_at, d.id limit greatest(slots.free, 0)
      for update of d skip locked
    ) due
    where s.enabled
    order by due.next_attempt_at limit max_rows
  ), claimed as (
    update webhooks.deliveries d set status = 'sending', locked_until = now() + make_interval(secs => lease_seconds)
    from picked where d.id = picked.id
    returning d.id, d.subscription_id, d.event_id, d.attempt
  )
  select c.id, c.subscription_id, c.event_id, c.attempt, e.type, e.created_at,
         case when row_number() over (partition by c.event_id) = 1 then e.payload::text end,
         s.url, s.secret, case when s.previous_secret_expires_at > now() then s.previous_secret end
  from claimed c join webhooks.events e on e.id = c.event_id join webhooks.subscriptions s on s.id = c.subscription_id;
end $$;
