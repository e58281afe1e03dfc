/**
 * The soak's customers: each signed in with its own session (refreshed before its access token
 * lapses, as the app does), sending a mobile app's mix — 90 % browsing (catalog pages with
 * filters, one product, categories), 7 % cart (put, remove, read), 3 % orders (direct with an
 * Idempotency-Key, or checkout of the cart).
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from '../lib.ts';

export interface Customer {
  username: string;
  password: string;
  auth: string;
  refresh: string;
  /** When to refresh: 80 % into the access token's life (its length known from the login). */
  refreshAt: number;
  lifetimeMs: number;
  cart: Set<string>;
}

export interface Catalog {
  products: string[];
  categories: string[];
}

export type Kind = 'browse' | 'cart' | 'order' | 'refresh';

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const ORDERINGS = ['name', '-name', 'price', '-price', 'created_at', '-created_at'];

async function session(request: Request, customer: Pick<Customer, 'username' | 'password'>, headers: Record<string, string>) {
  const res = await request('POST', '/api/identity/token/', { username: customer.username, password: customer.password }, headers);
  if (res.status !== 200) throw new Error(`login: ${res.status} ${res.body}`);
  const body = JSON.parse(res.body) as { access: string; refresh: string; expires_in: number };
  return { ...tokens(body, body.expires_in * 1000), lifetimeMs: body.expires_in * 1000 };
}

function tokens(body: { access: string; refresh: string }, lifetimeMs: number) {
  return { auth: `Bearer ${body.access}`, refresh: body.refresh, refreshAt: Date.now() + lifetimeMs * 0.8 };
}

export async function signUp(request: Request, count: number, prefix: string): Promise<Customer[]> {
  const customers: Customer[] = [];
  for (let i = 0; i < count; i++) {
    const username = `${prefix}${i}`;
    const password = `soak-password-${i}-long-enough`;
    const reg = await request('POST', '/api/identity/register/', { username, email: `${username}@example.com`, password });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.body}`);
    customers.push({ username, password, ...(await session(request, { username, password }, { 'x-forwarded-for': `10.9.0.${i % 250}` })), cart: new Set() });
  }
  return customers;
}

function browse(request: Request, customer: Customer, catalog: Catalog): Promise<Response> {
  const headers = { authorization: customer.auth };
  const r = Math.random();
  if (r < 0.55) {
    const params = new URLSearchParams({ limit: String(pick([10, 20, 50])), offset: String(Math.floor(Math.random() * 5) * 20) });
    if (Math.random() < 0.3) params.set('category', pick(catalog.categories));
    if (Math.random() < 0.2) params.set('ordering', pick(ORDERINGS));
    if (Math.random() < 0.1) params.set('search', pick(['soak', 'item', '1', 'zz']));
    return request('GET', `/api/catalog/products/?${params}`, undefined, headers);
  }
  if (r < 0.9) return request('GET', `/api/catalog/products/${pick(catalog.products)}/`, undefined, headers);
  return request('GET', '/api/catalog/categories/', undefined, headers);
}

async function cart(request: Request, customer: Customer, catalog: Catalog): Promise<Response> {
  const headers = { authorization: customer.auth };
  const r = Math.random();
  if (r < 0.5 || customer.cart.size === 0) {
    const product = pick(catalog.products);
    const res = await request('PUT', `/api/cart/items/${product}/`, { quantity: 1 + Math.floor(Math.random() * 2) }, headers);
    if (res.status === 200) customer.cart.add(product);
    return res;
  }
  if (r < 0.8) {
    const product = pick([...customer.cart]);
    customer.cart.delete(product);
    return request('DELETE', `/api/cart/items/${product}/`, undefined, headers);
  }
  return request('GET', '/api/cart/', undefined, headers);
}

async function order(request: Request, customer: Customer, catalog: Catalog): Promise<Response> {
  const headers = { authorization: customer.auth, 'idempotency-key': randomUUID() };
  if (customer.cart.size > 0 && Math.random() < 0.5) {
    const res = await request('POST', '/api/cart/checkout/', undefined, headers);
    if (res.status === 201) customer.cart.clear();
    return res;
  }
  const lines = new Set([pick(catalog.products), pick(catalog.products)]);
  return request('POST', '/api/orders/orders/', { order_items: [...lines].map((product) => ({ product, quantity: 1 })) }, headers);
}

async function refresh(request: Request, customer: Customer): Promise<Response> {
  const res = await request('POST', '/api/identity/token/refresh/', { refresh: customer.refresh });
  if (res.status === 200) Object.assign(customer, tokens(JSON.parse(res.body), customer.lifetimeMs));
  return res;
}

/** One request of the mix for this customer: what it was, and the answer. */
export async function step(request: Request, customer: Customer, catalog: Catalog): Promise<{ kind: Kind; res: Response }> {
  if (Date.now() >= customer.refreshAt) return { kind: 'refresh', res: await refresh(request, customer) };
  const r = Math.random();
  if (r < 0.9) return { kind: 'browse', res: await browse(request, customer, catalog) };
  if (r < 0.97) return { kind: 'cart', res: await cart(request, customer, catalog) };
  return { kind: 'order', res: await order(request, customer, catalog) };
}
