/**
 * Page envelopes `{count, next, previous, results}` with full URLs, and opaque keyset cursors.
 */
import { Type } from 'typebox';
import { AppError } from './errors.ts';

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 }),
};

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
