/**
 * Page envelopes `{count, next, previous, results}` with full URLs, and opaque keyset cursors.
 */
import { Type } from 'typebox';
import { AppError } from './errors.ts';

/**
 * The deepest offset a list serves. Each page below it costs the database every row above it
 * (at 1,000,000 products `offset=999000` took 881 ms of PostgreSQL per request); commercetools
 * stops at the same 10,000. Deeper pages of the catalog are read with its cursor.
 */
export const MAX_OFFSET = 10_000;

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0, description: `At most ${MAX_OFFSET}; deeper pages: the cursor where a list has one, else narrower filters` }),
};

/** The message of an offset over MAX_OFFSET: where to go instead. */
export function offsetTooDeep(hasCursor: boolean): string {
  return hasCursor
    ? `must be <= ${MAX_OFFSET}: read deeper pages with cursor (send cursor= empty to start a walk, then follow next)`
    : `must be <= ${MAX_OFFSET}: narrow the list with its filters`;
}

export const Page = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({
    count: Type.Optional(Type.Integer()),
    next: Type.Union([Type.String(), Type.Null()]),
    previous: Type.Union([Type.String(), Type.Null()]),
    results: Type.Array(item),
  });

/** The URL of this request with some query parameters replaced (null removes one). */
export function pageUrl(baseUrl: string, url: string, changes: Record<string, string | number | null>): string {
  const target = new URL(url, baseUrl);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) target.searchParams.delete(key);
    else target.searchParams.set(key, String(value));
  }
  return target.toString();
}

export function offsetLinks(baseUrl: string, url: string, offset: number, limit: number, count: number) {
  return {
    next: offset + limit < count ? pageUrl(baseUrl, url, { offset: offset + limit, limit }) : null,
    previous: offset > 0 ? pageUrl(baseUrl, url, { offset: Math.max(0, offset - limit), limit }) : null,
  };
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, check: (value: unknown) => value is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (check(value)) return value;
  } catch {
    // fall through to the validation error below
  }
  throw new AppError('validation_failed', 'cursor is not valid', { errors: [{ field: 'cursor', message: 'is not a valid cursor' }] });
}

/** Where page links start: PUBLIC_URL when set (behind a proxy), else the request's own origin. */
export function linkBase(request: { protocol: string; host: string }, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}
