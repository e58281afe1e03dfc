/**
 * Errors are typed once here and rendered once, as problem+json, by the HTTP error handler.
 * Every code is a row of the error table in API.md.
 */
import type { DependencyName } from './dependencies.ts';

export const PROBLEMS = {
  validation_failed: { status: 400, title: 'Validation failed' },
  not_authenticated: { status: 401, title: 'Not authenticated' },
  invalid_token: { status: 401, title: 'Invalid token' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  insufficient_stock: { status: 409, title: 'Insufficient stock' },
  conflict: { status: 409, title: 'Conflict' },
  idempotency_key_in_progress: { status: 409, title: 'Idempotency key in progress' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  unknown_product: { status: 422, title: 'Unknown product' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

export interface FieldError {
  field: string;
  message: string;
}

export interface AppErrorOptions {
  /** Validation failures, one per field. */
  errors?: FieldError[];
  /** Extra members of the problem body (e.g. `items` for insufficient_stock). */
  extra?: Record<string, unknown>;
  /** Response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
  /** `unavailable`: the dependency that is missing (counted and logged by the problem handler). */
  dependency?: DependencyName;
  /** A status other than the code's usual one, where the contract says so (400 invalid_token of a reset). */
  status?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly dependency: DependencyName | undefined;

  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    options: AppErrorOptions = {},
  ) {
    super(detail ?? PROBLEMS[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.status = options.status ?? PROBLEMS[code].status;
    this.errors = options.errors;
    this.extra = options.extra;
    this.headers = options.headers;
    this.dependency = options.dependency;
  }
}

export const notFound = (what = 'Resource') => new AppError('not_found', `${what} not found`);

/** PostgreSQL unique_violation, for mapping duplicates to 409. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = findPgError(error);
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** drizzle wraps driver errors; the PostgreSQL fields sit on the cause. */
export function findPgError(error: unknown): { code?: string; constraint?: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const candidate = current as { code?: unknown; constraint?: string; cause?: unknown };
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      return { code: candidate.code, constraint: candidate.constraint };
    }
    current = candidate.cause;
  }
  return undefined;
}
