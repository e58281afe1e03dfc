/**
 * Idempotency-Key handling, shared by `POST orders/` and the cart's checkout (invariant 5).
 *
 * A key is claimed by inserting its row `in_progress` with a short lease, in its own statement, so
 * a racing request with the same key finds the row at once and answers 409 while the first runs.
 * The first request stores its response (`done`) inside its own business transaction: the order
 * and the record of it commit together, so no crash can leave an order without its key or a key
 * pointing at an order that was rolled back. A refused or failed request deletes its claim, so an
 * honest retry runs again; a crashed one leaves a claim that lapses when its lease expires.
 */
import { createHash, randomUUID } from 'node:crypto';
import { queryRows, sql, type Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';

/** How long an unfinished claim blocks its key; after that a retry may take it over. */
export const LEASE_SECONDS = 60;

export interface IdempotentResponse<T> {
  status: number;
  body: T;
}

export interface IdempotentOutcome<T> extends IdempotentResponse<T> {
  replayed: boolean;
  /** A 202's resource to poll (flash-sale mode's pending order). */
  location?: string | undefined;
}

/** Records the response inside the caller's transaction; throws if the claim was lost meanwhile. */
export type CompleteKey = (tx: Db, response: IdempotentResponse<unknown>) => Promise<void>;

/** A stable hash of what the request asks for, namespaced by the operation (`scope`). */
export function requestHash(scope: string, body: unknown): string {
  return createHash('sha256').update(scope).update('\n').update(JSON.stringify(body ?? null)).digest('hex');
}

interface KeyRow {
  request_hash: string;
  status: 'in_progress' | 'done';
  response_status: number | null;
  response_body: unknown;
}

/** A key row as a batch found it (and locked it) at the start of its transaction. */
export interface LockedKey {
  customerId: string;
  key: string;
  requestHash: string;
  status: 'in_progress' | 'done';
  responseStatus: number | null;
  responseBody: unknown;
  leaseToken: string;
  /** Its lease (in progress) or retention (done) has run out: the key may be taken over. */
  lapsed: boolean;
}

export const keyId = (customerId: string, key: string) => `${customerId}\n${key}`;

/**
 * For the batch writer: its keys, each once, in (customer, key) order. Inside the batch's
 * transaction `orders.batch_begin` (migrations/0350_orders_batch_trips.sql) claims every key that
 * has no row (an `in_progress` row with the batch's own token) and locks every row that exists, in
 * one statement, in that order so two batches cannot deadlock on keys. A key another transaction
 * is inserting at that moment makes it wait for that commit, then find its row: two requests with
 * one key can never both proceed. The batch completes or deletes the rows it claimed before it
 * commits, so no other process ever sees them in progress.
 */
export function batchKeys(keys: Array<{ customerId: string; key: string; hash: string }>): Array<{ customer_id: string; key: string; request_hash: string }> {
  const unique = new Map(keys.map((k) => [keyId(k.customerId, k.key), k]));
  return [...unique.values()]
    .sort((a, b) => (a.customerId === b.customerId ? (a.key < b.key ? -1 : 1) : a.customerId < b.customerId ? -1 : 1))
    .map((k) => ({ customer_id: k.customerId, key: k.key, request_hash: k.hash }));
}

/** The key rows `orders.batch_begin` claimed or locked. */
export function lockedKeysFromJson(
  rows: Array<{
    customer_id: string;
    key: string;
    request_hash: string;
    status: 'in_progress' | 'done';
    response_status: number | null;
    response_body: unknown;
    lease_token: string;
    lapsed: boolean;
  }>,
): Map<string, LockedKey> {
  return new Map(
    rows.map((r) => [
      keyId(r.customer_id, r.key),
      {
        customerId: r.customer_id,
        key: r.key,
        requestHash: r.request_hash,
        status: r.status,
        responseStatus: r.response_status,
        responseBody: r.response_body,
        leaseToken: r.lease_token,
        lapsed: r.lapsed,
      },
    ]),
  );
}

/** `retentionSeconds`: how long a successful response is kept for replay (API.md: at least 24 hours). */
export function createIdempotency(primary: Db, retentionSeconds: number) {
  /** Inserts the claim, or takes over a row whose lease or retention has lapsed. */
  async function claim(customerId: string, key: string, hash: string, token: string): Promise<boolean> {
    const rows = await queryRows<{ lease_token: string }>(
      primary,
      sql`insert into orders.idempotency_keys (customer_id, key, request_hash, status, lease_token, expires_at)
          values (${customerId}, ${key}, ${hash}, 'in_progress', ${token}, now() + make_interval(secs => ${LEASE_SECONDS}))
          on conflict (customer_id, key) do update
            set request_hash = excluded.request_hash, status = 'in_progress', lease_token = excluded.lease_token,
                response_status = null, response_body = null, created_at = now(), expires_at = excluded.expires_at
            where orders.idempotency_keys.expires_at < now()
          returning lease_token`,
    );
    return rows.length === 1;
  }

  async function existing(customerId: string, key: string): Promise<KeyRow | undefined> {
    const [row] = await queryRows<KeyRow>(
      primary,
      sql`select request_hash, status, response_status, response_body from orders.idempotency_keys
          where customer_id = ${customerId} and key = ${key}`,
    );
    return row;
  }

  async function release(customerId: string, key: string, token: string): Promise<void> {
    await primary.execute(
      sql`delete from orders.idempotency_keys
          where customer_id = ${customerId} and key = ${key} and lease_token = ${token} and status = 'in_progress'`,
    );
  }

  const complete =
    (customerId: string, key: string, token: string): CompleteKey =>
    async (tx, response) => {
      const rows = await queryRows<{ key: string }>(
        tx,
        sql`update orders.idempotency_keys
            set status = 'done', response_status = ${response.status}, response_body = ${JSON.stringify(response.body)}::jsonb,
                expires_at = now() + make_interval(secs => ${retentionSeconds})
            where customer_id = ${customerId} and key = ${key} and lease_token = ${token}
            returning key`,
      );
      // Our lease lapsed and another request took the key over: roll our work back, it owns the key now.
      if (rows.length === 0) throw new AppError('idempotency_key_in_progress', 'The request with this Idempotency-Key took too long; retry it');
    };

  /**
   * Runs `fn` at most once per (customer, key): replays the stored response of an earlier success,
   * refuses a concurrent or different request with the same key. Without a key it just runs `fn`.
   */
  async function withIdempotency<T>(
    customerId: string,
    key: string | undefined,
    hash: string,
    fn: (complete: CompleteKey, leaseToken: string | undefined) => Promise<IdempotentResponse<T>>,
  ): Promise<IdempotentOutcome<T>> {
    if (key === undefined) return { ...(await fn(async () => undefined, undefined)), replayed: false };
    const token = randomUUID();
    // A claim that disappears between our insert and our read (its owner failed) is retried.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await claim(customerId, key, hash, token)) {
        try {
          return { ...(await fn(complete(customerId, key, token), token)), replayed: false };
        } catch (error) {
          await release(customerId, key, token).catch(() => undefined);
          throw error;
        }
      }
      const row = await existing(customerId, key);
      if (!row) continue;
      if (row.request_hash !== hash) {
        throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request');
      }
      if (row.status === 'in_progress') {
        throw new AppError('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed');
      }
      return { status: row.response_status ?? 200, body: row.response_body as T, replayed: true };
    }
    throw new AppError('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed');
  }

  /** Deletes lapsed keys: finished ones past retention, unfinished ones past their lease. */
  async function purgeExpired(): Promise<number> {
    const rows = await queryRows<{ key: string }>(primary, sql`delete from orders.idempotency_keys where expires_at < now() returning key`);
    return rows.length;
  }

  /** The key's row as it stands (a direct order's claim lives inside its batch: only finished ones show). */
  async function lookup(customerId: string, key: string): Promise<{ requestHash: string; done: boolean; response: IdempotentResponse<unknown> } | undefined> {
    const row = await existing(customerId, key);
    if (!row) return undefined;
    return { requestHash: row.request_hash, done: row.status === 'done', response: { status: row.response_status ?? 200, body: row.response_body } };
  }

  return { withIdempotency, lookup, purgeExpired };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
