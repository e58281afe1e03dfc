/** SQL only. Each function takes its executor (primary, replica or transaction) first. */
import { queryRows, sql, type Db } from '../../platform/db.ts';

export interface Subscription {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: Date;
  lastDelivery: { status: string; responseStatus: number | null; createdAt: Date } | null;
}

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'failed';

export interface Delivery {
  id: string;
  eventId: string;
  type: string;
  status: DeliveryStatus;
  attempt: number;
  responseStatus: number | null;
  durationMs: number | null;
  responseExcerpt: string | null;
  createdAt: Date;
  nextAttemptAt: Date;
  error: string | null;
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  subscriptionId: string;
  eventId: string;
  attempt: number;
  type: string;
  /** The event's `data` as JSON text, as stored (not parsed: the worker only sends it on). */
  payloadJson: string;
  occurredAt: Date;
  url: string;
  secrets: string[];
}

type Row = Record<string, unknown>;
const date = (v: unknown) => new Date(v as string);
const intOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

const SUBSCRIPTION_COLUMNS = sql`s.id, s.url, s.events, s.description, s.enabled, s.disabled_reason, s.created_at,
  (select json_build_object('status', d.status, 'response_status', d.response_status, 'created_at', d.created_at)
   from webhooks.deliveries d where d.subscription_id = s.id and d.status in ('succeeded', 'failed')
   order by d.finished_at desc limit 1) as last_delivery`;

function toSubscription(r: Row): Subscription {
  const last = r['last_delivery'] as { status: string; response_status: number | null; created_at: string } | null;
  return {
    id: String(r['id']),
    url: String(r['url']),
    events: r['events'] as string[],
    description: String(r['description']),
    enabled: Boolean(r['enabled']),
    disabledReason: (r['disabled_reason'] as string | null) ?? null,
    createdAt: date(r['created_at']),
    lastDelivery: last ? { status: last.status, responseStatus: last.response_status, createdAt: date(last.created_at) } : null,
  };
}

const textArray = (values: string[]) => sql`${`{${values.map((v) => `"${v}"`).join(',')}}`}::text[]`;

export async function insertSubscription(
  db: Db,
  s: { id: string; url: string; events: string[]; description: string; enabled: boolean; secret: string },
): Promise<void> {
  await db.execute(
    // It gets the events recorded from now on: its cursor starts after those already there.
    sql`insert into webhooks.subscriptions (id, url, events, description, enabled, secret, cursor)
        values (${s.id}, ${s.url}, ${textArray(s.events)}, ${s.description}, ${s.enabled}, ${s.secret},
                (select coalesce(max(seq), 0) from webhooks.events))`,
  );
}

export async function findSubscription(db: Db, id: string): Promise<Subscription | undefined> {
  const [row] = await queryRows<Row>(db, sql`select ${SUBSCRIPTION_COLUMNS} from webhooks.subscriptions s where s.id = ${id}`);
  return row ? toSubscription(row) : undefined;
}

export async function listSubscriptions(db: Db, limit: number, offset: number): Promise<{ rows: Subscription[]; count: number }> {
  const rows = await queryRows<Row>(
    db,
    sql`select ${SUBSCRIPTION_COLUMNS}, count(*) over () as total from webhooks.subscriptions s
        order by s.created_at desc, s.id desc limit ${limit} offset ${offset}`,
  );
  const count = rows[0] ? Number(rows[0]['total']) : Number((await queryRows<Row>(db, sql`select count(*) as n from webhooks.subscriptions`))[0]!['n']);
  return { rows: rows.map(toSubscription), count };
}

/**
 * Staff changes; enabling again clears the failure record, so one more failure does not disable it
 * at once, and moves its cursor past the events recorded while it was disabled (it gets the events
 * recorded while it is enabled, as a new one does).
 */
export async function updateSubscription(
  db: Db,
  id: string,
  changes: { url?: string | undefined; events?: string[] | undefined; description?: string | undefined; enabled?: boolean | undefined },
): Promise<boolean> {
  const rows = await queryRows<Row>(
    db,
    sql`update webhooks.subscriptions set
          url = coalesce(${changes.url ?? null}, url),
          events = coalesce(${changes.events ? textArray(changes.events) : null}, events),
          description = coalesce(${changes.description ?? null}, description),
          enabled = coalesce(${changes.enabled ?? null}, enabled),
          disabled_reason = case when ${changes.enabled ?? null}::boolean is null then disabled_reason else null end,
          consecutive_failures = case when ${changes.enabled ?? null}::boolean then 0 else consecutive_failures end,
          failing_since = case when ${changes.enabled ?? null}::boolean then null else failing_since end,
          cursor = case when ${changes.enabled ?? null}::boolean and not enabled
                        then (select coalesce(max(seq), 0) from webhooks.events) else cursor end,
          updated_at = now()
        where id = ${id} returning id`,
  );
  return rows.length > 0;
}

/** Deletes a subscription with its delivery log and its retries still to come. */
export async function deleteSubscription(db: Db, id: string): Promise<boolean> {
  const rows = await queryRows<Row>(
    db,
    sql`with gone as (delete from webhooks.subscriptions where id = ${id} returning id),
        log as (delete from webhooks.deliveries d using gone where d.subscription_id = gone.id)
        select id from gone`,
  );
  return rows.length > 0;
}

export async function rotateSecret(db: Db, id: string, secret: string, overlapSeconds: number): Promise<Date | undefined> {
  const [row] = await queryRows<Row>(
    db,
    sql`update webhooks.subscriptions set previous_secret = secret, secret = ${secret},
          previous_secret_expires_at = now() + make_interval(secs => ${overlapSeconds}), updated_at = now()
        where id = ${id} returning previous_secret_expires_at`,
  );
  return row ? date(row['previous_secret_expires_at']) : undefined;
}

/** Whether an enabled subscription wants any of `types` (or every event). */
export async function anyWants(tx: Db, types: readonly string[]): Promise<boolean> {
  const rows = await queryRows<{ wants: boolean }>(
    tx,
    sql`select exists (select 1 from webhooks.subscriptions s
                       where s.enabled and s.events && ${`{${[...types, '*'].join(',')}}`}::text[]) as wants`,
  );
  return rows[0]!.wants;
}

/**
 * Records events in the caller's transaction (the outbox relay's, or a stock change's) when an
 * enabled subscription wants them; each subscription's cursor brings them to its deliveries. One
 * statement whatever the batch size (migration 0630, `webhooks.insert_events`): it first waits for
 * another transaction recording events to end (an advisory lock held to the transaction's end), so
 * a cursor that has read `seq` n has seen every event below n that will ever commit. An event no
 * enabled subscription wants is not kept: nothing could ever deliver it (a subscription sees the
 * events recorded while it is enabled), and a shop without webhooks would store every order's
 * snapshot for nothing.
 */
export async function insertEvents(tx: Db, events: Array<{ id: string; type: string; payload: unknown; created_at: string }>): Promise<void> {
  if (events.length === 0) return;
  await tx.execute(sql`select webhooks.insert_events(${JSON.stringify(events)}::jsonb)`);
}

/** A subscription's next events past its cursor, leased to this worker: their first attempts. */
export interface CursorBatch {
  subscriptionId: string;
  /** Where the cursor moves once the batch's attempts are recorded: the last event in the batch. */
  to: number;
  url: string;
  secrets: string[];
  /** The events in the batch the subscription wants (the others are passed over). */
  deliveries: Array<Omit<ClaimedDelivery, 'id' | 'url' | 'secrets'>>;
}

/**
 * Leases up to `subscriptions` enabled subscriptions with events past their cursor (none leased
 * by another worker) for `leaseMs`, with up to `batch` events each. SKIP LOCKED: workers never
 * lease the same one. A worker killed mid-batch leaves the lease to run out; then any worker sends
 * the batch again, with the same event ids.
 */
export async function leaseCursors(db: Db, subscriptions: number, batch: number, leaseMs: number): Promise<CursorBatch[]> {
  // Migration 0630: one row per (subscription, event); an event's payload on its first wanted row only.
  const rows = await queryRows<Row>(db, sql`select * from webhooks.lease_cursors(${subscriptions}::int, ${batch}::int, ${leaseMs / 1000}::float8)`);
  const payloads = new Map<string, string>();
  for (const r of rows) if (r['payload'] !== null && r['payload'] !== undefined) payloads.set(String(r['event_id']), String(r['payload']));
  const batches = new Map<string, CursorBatch>();
  for (const r of rows) {
    const id = String(r['subscription_id']);
    let b = batches.get(id);
    if (!b) {
      const secrets = [String(r['sub_secret']), ...(r['sub_previous_secret'] ? [String(r['sub_previous_secret'])] : [])];
      batches.set(id, (b = { subscriptionId: id, to: Number(r['from_cursor']), url: String(r['sub_url']), secrets, deliveries: [] }));
    }
    b.to = Math.max(b.to, Number(r['event_seq']));
    if (r['wanted']) {
      b.deliveries.push({ subscriptionId: id, eventId: String(r['event_id']), attempt: 1, type: String(r['event_type']), payloadJson: payloads.get(String(r['event_id']))!, occurredAt: date(r['event_at']) });
    }
  }
  return [...batches.values()];
}

/**
 * Records a leased batch's first attempts, one row each, with a pending retry for each failed one
 * that has one left, and moves the cursor past the batch, ending the lease; in one statement. The
 * failure streak: any success in the batch ends it, failures alone lengthen it and disable the
 * subscription past either threshold.
 */
export async function recordCursorBatch(
  db: Db,
  b: Pick<CursorBatch, 'subscriptionId' | 'to'>,
  attempts: Array<{ id: string; eventId: string; result: AttemptResult; retry: { id: string; inSeconds: number } | null }>,
  disable: { afterSeconds: number; afterFailures: number },
): Promise<void> {
  const records = attempts.map((a) => ({
    id: a.id,
    event_id: a.eventId,
    status: a.result.ok ? 'succeeded' : 'failed',
    response_status: a.result.responseStatus,
    response_excerpt: a.result.responseExcerpt,
    duration_ms: a.result.durationMs,
    error: a.result.error,
    retry_id: a.retry?.id ?? null,
    retry_in: a.retry?.inSeconds ?? null,
  }));
  const successes = attempts.filter((a) => a.result.ok).length;
  const failures = attempts.length - successes;
  const lastFailure = attempts.findLast((a) => !a.result.ok)?.result;
  const reason = lastFailure ? (lastFailure.error ?? `HTTP ${lastFailure.responseStatus}`).slice(0, 200) : '';
  // Migration 0630, `webhooks.record_batch`. (No foreign key from the attempts: a subscription
  // deleted meanwhile leaves attempts no one lists or claims, removed with their event; 0620 says why.)
  await db.execute(
    sql`select webhooks.record_batch(${b.subscriptionId}::uuid, ${b.to}::bigint, ${JSON.stringify(records)}::jsonb, ${successes}::int,
                                     ${failures}::int, ${reason}::text, ${disable.afterFailures}::int, ${disable.afterSeconds}::int)`,
  );
}

export async function listDeliveries(db: Db, subscriptionId: string, limit: number, offset: number): Promise<{ rows: Delivery[]; count: number }> {
  const rows = await queryRows<Row>(
    db,
    sql`select d.*, e.type, count(*) over () as total from webhooks.deliveries d join webhooks.events e on e.id = d.event_id
        where d.subscription_id = ${subscriptionId} order by d.created_at desc, d.attempt desc, d.id desc limit ${limit} offset ${offset}`,
  );
  const count = rows[0]
    ? Number(rows[0]['total'])
    : Number((await queryRows<Row>(db, sql`select count(*) as n from webhooks.deliveries where subscription_id = ${subscriptionId}`))[0]!['n']);
  return {
    count,
    rows: rows.map((r) => ({
      id: String(r['id']),
      eventId: String(r['event_id']),
      type: String(r['type']),
      status: r['status'] as DeliveryStatus,
      attempt: Number(r['attempt']),
      responseStatus: intOrNull(r['response_status']),
      durationMs: intOrNull(r['duration_ms']),
      responseExcerpt: (r['response_excerpt'] as string | null) ?? null,
      createdAt: date(r['created_at']),
      nextAttemptAt: date(r['next_attempt_at']),
      error: (r['error'] as string | null) ?? null,
    })),
  };
}

/** A manual redelivery: a new pending attempt of the same event (same webhook-id). */
export async function redeliver(db: Db, subscriptionId: string, deliveryId: string, newId: string): Promise<boolean> {
  const rows = await queryRows<Row>(
    db,
    sql`insert into webhooks.deliveries (id, subscription_id, event_id, attempt, status, next_attempt_at)
        select ${newId}, d.subscription_id, d.event_id,
               (select max(attempt) + 1 from webhooks.deliveries a where a.subscription_id = d.subscription_id and a.event_id = d.event_id),
               'pending', now()
        from webhooks.deliveries d where d.id = ${deliveryId} and d.subscription_id = ${subscriptionId}
        returning id`,
  );
  return rows.length > 0;
}

/**
 * Takes due deliveries for one attempt each: pending ones, and ones whose sender's lease ran out (a
 * worker killed mid-send). SKIP LOCKED: workers never take the same row. Per subscription at most
 * `concurrency` are in flight (counting other workers' live claims), so one slow receiver cannot
 * hold every sending slot.
 */
export async function claimDue(db: Db, limit: number, concurrency: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  // Migration 0630, `webhooks.claim_due`: per enabled subscription its free slots (concurrency minus
  // live leases), then that many of its oldest due deliveries, skipping rows another worker holds.
  // Each step reads an index of one subscription, so a claim costs what it takes, however long the
  // backlog or the log. An event's payload once per claim, not once per subscription that wants it.
  const rows = await queryRows<Row>(db, sql`select * from webhooks.claim_due(${limit}::int, ${concurrency}::int, ${leaseMs / 1000}::float8)`);
  const payloads = new Map<string, string>();
  for (const r of rows) if (r['payload'] !== null && r['payload'] !== undefined) payloads.set(String(r['event_id']), String(r['payload']));
  return rows.map((r) => ({
    id: String(r['delivery_id']),
    subscriptionId: String(r['subscription_id']),
    eventId: String(r['event_id']),
    attempt: Number(r['attempt']),
    type: String(r['event_type']),
    payloadJson: payloads.get(String(r['event_id']))!,
    occurredAt: date(r['event_at']),
    url: String(r['sub_url']),
    secrets: [String(r['sub_secret']), ...(r['sub_previous_secret'] ? [String(r['sub_previous_secret'])] : [])],
  }));
}

export interface AttemptResult {
  ok: boolean;
  responseStatus: number | null;
  responseExcerpt: string | null;
  durationMs: number;
  error: string | null;
}

/**
 * Records successful attempts, any number in one statement (no transaction of its own: the hot
 * path; the delivery loop gathers the successes that came in together): the rows finished, and
 * their subscriptions' failure streaks ended if they had one (a healthy subscription's row is not
 * rewritten). Returns the ids recorded; one missing was no longer this sender's (its lease ran out).
 */
export async function finishSucceeded(db: Db, done: Array<{ d: Pick<ClaimedDelivery, 'id'>; result: AttemptResult }>): Promise<Set<string>> {
  if (done.length === 0) return new Set();
  const records = done.map(({ d, result }) => ({ id: d.id, response_status: result.responseStatus, response_excerpt: result.responseExcerpt, duration_ms: result.durationMs }));
  const rows = await queryRows<Row>(
    db,
    sql`with x as (
          select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
            as x(id uuid, response_status integer, response_excerpt text, duration_ms integer)
        ), done as (
          update webhooks.deliveries d set status = 'succeeded', response_status = x.response_status,
            response_excerpt = x.response_excerpt, duration_ms = x.duration_ms, error = null,
            finished_at = now(), locked_until = null
          from x where d.id = x.id and d.status = 'sending' returning d.id, d.subscription_id
        ), streak as (
          update webhooks.subscriptions set consecutive_failures = 0, failing_since = null
          where id in (select subscription_id from done) and (consecutive_failures <> 0 or failing_since is not null)
        )
        select id from done`,
  );
  return new Set(rows.map((r) => String(r['id'])));
}

/**
 * Records a failed attempt, in one transaction with what follows from it: the next attempt
 * scheduled (unless `retryInSeconds` is null), the failure counted, and the subscription disabled
 * past either threshold. Returns false when the row was no longer this sender's (its lease ran out
 * and another took it).
 */
export async function finishFailed(
  tx: Db,
  d: ClaimedDelivery,
  result: AttemptResult,
  next: { id: string; retryInSeconds: number | null },
  disable: { afterSeconds: number; afterFailures: number },
): Promise<boolean> {
  const done = await queryRows<Row>(
    tx,
    sql`update webhooks.deliveries set status = 'failed', response_status = ${result.responseStatus},
          response_excerpt = ${result.responseExcerpt}, duration_ms = ${result.durationMs}, error = ${result.error},
          finished_at = now(), locked_until = null
        where id = ${d.id} and status = 'sending' returning id`,
  );
  if (done.length === 0) return false;
  await tx.execute(
    sql`update webhooks.subscriptions set consecutive_failures = consecutive_failures + 1, failing_since = coalesce(failing_since, now())
        where id = ${d.subscriptionId}`,
  );
  await tx.execute(
    sql`update webhooks.subscriptions set enabled = false, updated_at = now(),
          disabled_reason = format('deliveries failed %s times in a row since %s; last error: %s', consecutive_failures,
                                   to_char(failing_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), ${(result.error ?? `HTTP ${result.responseStatus}`).slice(0, 200)}::text)
        where id = ${d.subscriptionId} and enabled
          and (consecutive_failures >= ${disable.afterFailures} or failing_since <= now() - make_interval(secs => ${disable.afterSeconds}))`,
  );
  if (next.retryInSeconds !== null) {
    await tx.execute(
      sql`insert into webhooks.deliveries (id, subscription_id, event_id, attempt, status, next_attempt_at)
          values (${next.id}, ${d.subscriptionId}, ${d.eventId}, ${d.attempt + 1}, 'pending', now() + make_interval(secs => ${next.retryInSeconds}))`,
    );
  }
  return true;
}

/**
 * Events older than the retention whose deliveries are all finished (every enabled cursor past
 * them, no retry to come for a subscription that still exists), with their log.
 */
export async function purgeOldEvents(db: Db, olderThanSeconds: number): Promise<number> {
  const rows = await queryRows<Row>(
    db,
    sql`with gone as (
          delete from webhooks.events e where e.created_at < now() - make_interval(secs => ${olderThanSeconds})
            and not exists (select 1 from webhooks.deliveries d join webhooks.subscriptions s on s.id = d.subscription_id
                            where d.event_id = e.id and d.status in ('pending', 'sending'))
            and e.seq <= coalesce((select min(s.cursor) from webhooks.subscriptions s where s.enabled), e.seq)
          returning id
        ), log as (delete from webhooks.deliveries d using gone where d.event_id = gone.id)
        select count(*) as n from gone`,
  );
  return Number(rows[0]!['n']);
}
