/**
 * The typed client of the opply-commerce API: openapi-fetch over the types openapi-typescript
 * generates from /openapi.json (schema.ts), plus what every app would otherwise write itself:
 * bearer tokens with refresh rotation, and an Idempotency-Key per logical order kept across retries.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths };
/** Every error answer (application/problem+json, RFC 9457). */
export type Problem = components['schemas']['Problem'];
/** The stable, machine-readable error codes. */
export type ProblemCode = Problem['code'];
type Json<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer T } } };
}
  ? T
  : never;
export type Order = Json<'/api/orders/orders/{id}/', 'get', 200>;
export type OrderPage = Json<'/api/orders/orders/', 'get', 200>;
export type Product = Json<'/api/catalog/products/{id}/', 'get', 200>;
export type ProductPage = Json<'/api/catalog/products/', 'get', 200>;
export type Cart = Json<'/api/cart/', 'get', 200>;
export type Profile = Json<'/api/identity/me/', 'get', 200>;
export type OrderLine = { product: string; quantity: number };

export interface Tokens {
  access: string;
  refresh: string;
}

/** Where the tokens live: memory by default; SecureStore / Keychain in a mobile app (README). */
export interface TokenStore {
  get(): Tokens | undefined | Promise<Tokens | undefined>;
  set(tokens: Tokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

export function memoryTokenStore(initial?: Tokens): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => void (tokens = next),
    clear: () => void (tokens = undefined),
  };
}

export interface ClientOptions {
  /** e.g. `https://api.example.com` (no trailing slash). */
  baseUrl: string;
  tokens?: TokenStore;
  /**
   * Called once the session is over: the refresh token was refused (rotated already, revoked,
   * expired: a reused one revokes its whole family on the server). The tokens are cleared first.
   */
  onSignedOut?: (problem: Problem | undefined) => void;
  /** Defaults to globalThis.fetch. */
  fetch?: (input: Request) => Promise<Response>;
  /** Makes Idempotency-Keys; defaults to crypto.randomUUID (React Native: see README). */
  newIdempotencyKey?: () => string;
  /** Attempts per order placement on a network error, a 5xx or a key still in progress (default 3). */
  orderAttempts?: number;
  /** Longest wait between two order attempts, in ms (default 5000); Retry-After is honoured below it. */
  maxRetryDelayMs?: number;
}

const REFRESH_PATH = '/api/identity/token/refresh/';

async function problemOf(response: Response): Promise<Problem | undefined> {
  if (!/problem\+json/.test(response.headers.get('content-type') ?? '')) return undefined;
  return (await response.clone().json().catch(() => undefined)) as Problem | undefined;
}

/**
 * A fetch that sends the access token and, when the server says it is no longer valid
 * (401 invalid_token), refreshes once and sends the request again. Concurrent requests share one
 * refresh: two refreshes with the same token would look like reuse and end the session.
 */
function authenticatedFetch(options: Required<Pick<ClientOptions, 'baseUrl' | 'tokens'>> & Pick<ClientOptions, 'onSignedOut' | 'fetch'>) {
  const send = options.fetch ?? ((input: Request) => globalThis.fetch(input));
  let refreshing: Promise<boolean> | undefined;

  async function refresh(used: string): Promise<boolean> {
    const current = await options.tokens.get();
    if (!current) return false;
    if (current.access !== used) return true; // another request already refreshed
    const response = await send(
      new Request(options.baseUrl + REFRESH_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: current.refresh }) }),
    );
    if (response.ok) {
      await options.tokens.set((await response.json()) as Tokens);
      return true;
    }
    if (response.status === 401) {
      await options.tokens.clear();
      options.onSignedOut?.(await problemOf(response));
    }
    return false;
  }

  const withToken = (request: Request, access: string | undefined) => {
    if (access && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${access}`);
    return request;
  };

  return async (input: Request): Promise<Response> => {
    const access = (await options.tokens.get())?.access;
    const retry = access ? input.clone() : undefined;
    const response = await send(withToken(input, access));
    if (response.status !== 401 || !retry || (await problemOf(response))?.code !== 'invalid_token') return response;
    refreshing ??= refresh(access!).finally(() => (refreshing = undefined));
    if (!(await refreshing)) return response;
    return send(withToken(retry, (await options.tokens.get())?.access));
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createOpplyClient(options: ClientOptions) {
  const tokens = options.tokens ?? memoryTokenStore();
  const api: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl,
    fetch: authenticatedFetch({ baseUrl: options.baseUrl, tokens, onSignedOut: options.onSignedOut, fetch: options.fetch }),
  });
  const newKey = options.newIdempotencyKey ?? (() => globalThis.crypto.randomUUID());
  const attempts = options.orderAttempts ?? 3;
  const maxDelay = options.maxRetryDelayMs ?? 5000;

  /** Runs one logical order under one key: retried only where a retry cannot order twice. */
  async function oneOrder<R extends { response: Response; error?: unknown }>(send: (key: string) => Promise<R>, key = newKey()) {
    for (let attempt = 1; ; attempt++) {
      let result: R;
      try {
        result = await send(key);
      } catch (error) {
        if (attempt >= attempts) throw error;
        await sleep(Math.min(maxDelay, 250 * 2 ** attempt));
        continue;
      }
      const { status } = result.response;
      const inProgress = status === 409 && (result.error as Problem | undefined)?.code === 'idempotency_key_in_progress';
      if (attempt >= attempts || !(status >= 500 || inProgress)) return { ...result, idempotencyKey: key };
      const after = Number(result.response.headers.get('retry-after'));
      await sleep(Math.min(maxDelay, Number.isFinite(after) && after > 0 ? after * 1000 : 250 * 2 ** attempt));
    }
  }

  return {
    /** Every operation of the document, typed: `api.GET('/api/catalog/products/', { params: { query: { limit: 5 } } })`. */
    api,
    tokens,
    async login(username: string, password: string) {
      const result = await api.POST('/api/identity/token/', { body: { username, password } });
      if (result.data) await tokens.set({ access: result.data.access, refresh: result.data.refresh });
      return result;
    },
    async logout() {
      const current = await tokens.get();
      const result = current ? await api.POST('/api/identity/logout/', { body: { refresh: current.refresh } }) : undefined;
      await tokens.clear();
      return result;
    },
    /** Places one order; pass the same `idempotencyKey` to retry a logical order yourself later. */
    placeOrder(orderItems: OrderLine[], opts: { idempotencyKey?: string } = {}) {
      return oneOrder((key) => api.POST('/api/orders/orders/', { body: { order_items: orderItems }, params: { header: { 'idempotency-key': key } } }), opts.idempotencyKey);
    },
    /** Checks the cart out as one order, under one Idempotency-Key across retries. */
    checkout(opts: { idempotencyKey?: string } = {}) {
      return oneOrder((key) => api.POST('/api/cart/checkout/', { params: { header: { 'idempotency-key': key } } }), opts.idempotencyKey);
    },
  };
}

export type OpplyClient = ReturnType<typeof createOpplyClient>;
