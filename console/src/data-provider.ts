/**
 * react-admin's data provider for this API: resources → paths, react-admin's pages → the API's
 * pages. Products walk keyset cursors (fast at any depth of a 1,000,000-product catalog), so their
 * lists report next/previous pages instead of a total.
 */
import type { DataProvider, GetListParams, GetListResult, GetManyReferenceParams, GetManyReferenceResult, RaRecord } from 'react-admin';
import { api, json } from './api.ts';
import { productPage } from './product-pages.ts';

interface Page<T> {
  count?: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

const PATHS: Record<string, string> = {
  products: '/api/catalog/products/',
  stock: '/api/catalog/products/',
  customers: '/api/identity/customers/',
  orders: '/api/orders/orders/',
  categories: '/api/catalog/categories/',
  webhooks: '/api/webhooks/subscriptions/',
};

function pathOf(resource: string): string {
  const path = PATHS[resource];
  if (!path) throw new Error(`Unknown resource ${resource}`);
  return path;
}

const query = (values: Record<string, unknown>) => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  return params.toString();
};

/** Offset pages with a count (customers, orders). */
async function offsetList(resource: string, params: GetListParams, filters: Record<string, unknown>): Promise<GetListResult> {
  const { page = 1, perPage = 25 } = params.pagination ?? {};
  const answer = await api<Page<RaRecord>>(`${pathOf(resource)}?${query({ limit: perPage, offset: (page - 1) * perPage, ...filters })}`);
  return { data: answer.results, total: answer.count ?? answer.results.length };
}

type Category = { slug: string; name: string };

/** Categories are a short list without pages: sorted and cut here. */
async function categoryList(params: GetListParams): Promise<GetListResult> {
  const all = (await api<Category[]>(pathOf('categories'))).map((c) => ({ ...c, id: c.slug }));
  const q = String(params.filter?.q ?? '').toLowerCase();
  const found = q ? all.filter((c) => c.name.toLowerCase().includes(q) || c.slug.includes(q)) : all;
  const { page = 1, perPage = 25 } = params.pagination ?? {};
  return { data: found.slice((page - 1) * perPage, page * perPage), total: found.length };
}

function getList(resource: string, params: GetListParams): Promise<GetListResult> {
  const filter = params.filter ?? {};
  switch (resource) {
    case 'products':
    case 'stock':
      return productPage(params);
    case 'categories':
      return categoryList(params);
    case 'customers':
      return offsetList(resource, params, { search: filter.q, is_active: filter.is_active });
    case 'orders':
      return offsetList(resource, params, { status: filter.status, customer: filter.customer });
    case 'webhooks':
      return offsetList(resource, params, {});
    default:
      throw new Error(`Unknown resource ${resource}`);
  }
}

/** Only the fields that changed: a PATCH never rewrites what someone else just edited. */
function changed(data: Record<string, unknown>, previous: Record<string, unknown> | undefined, fields: string[]) {
  return Object.fromEntries(fields.filter((f) => f in data && data[f] !== previous?.[f]).map((f) => [f, data[f] === '' && f === 'category' ? null : data[f]]));
}

const EDITABLE: Record<string, string[]> = {
  products: ['name', 'description', 'price', 'category'],
  customers: ['email', 'first_name', 'last_name', 'is_active'],
  categories: ['slug', 'name'],
  webhooks: ['url', 'events', 'description', 'enabled'],
};

export const dataProvider = {
  getList: getList as DataProvider['getList'],

  async getOne(resource: string, { id }: { id: string }) {
    if (resource === 'stock') return { data: await api<RaRecord>(`${pathOf(resource)}${id}/inventory/`) };
    if (resource === 'categories') {
      const found = (await api<Category[]>(pathOf(resource))).find((c) => c.slug === id);
      if (!found) throw new Error('Category not found');
      return { data: { ...found, id: found.slug } };
    }
    return { data: await api<RaRecord>(`${pathOf(resource)}${id}/`) };
  },

  async getMany(resource: string, { ids }: { ids: string[] }) {
    const records = await Promise.all(ids.map((id) => dataProvider.getOne(resource, { id }).then((r) => r.data)));
    return { data: records };
  },

  /** The one referenced list: a subscription's delivery log (newest first, as the API keeps it). */
  async getManyReference(resource: string, params: GetManyReferenceParams): Promise<GetManyReferenceResult> {
    if (resource !== 'webhook-deliveries') return { data: [], total: 0 };
    const { page = 1, perPage = 25 } = params.pagination ?? {};
    const answer = await api<Page<RaRecord>>(`${pathOf('webhooks')}${params.id}/deliveries/?${query({ limit: perPage, offset: (page - 1) * perPage })}`);
    return { data: answer.results, total: answer.count ?? answer.results.length };
  },

  async create(resource: string, { data }: { data: Record<string, unknown> }) {
    const body = resource === 'products' ? { ...data, category: data.category || null } : data;
    const created = await api<RaRecord & { slug?: string }>(pathOf(resource), json(body));
    return { data: resource === 'categories' ? { ...created, id: created.slug! } : created };
  },

  async update(resource: string, { id, data, previousData }: { id: string; data: Record<string, unknown>; previousData: Record<string, unknown> }) {
    if (resource === 'stock') {
      // The stock form sends either a new count or a delta, never both.
      const body = data.mode === 'delta' ? { delta: Number(data.delta) } : { quantity: Number(data.stock) };
      return { data: await api<RaRecord>(`${pathOf(resource)}${id}/inventory/`, json(body)) };
    }
    const body = changed(data, previousData, EDITABLE[resource] ?? []);
    // Arrays differ by reference even when equal: compare what would be sent.
    if (Array.isArray(body.events) && JSON.stringify(body.events) === JSON.stringify(previousData.events)) delete body.events;
    if (Object.keys(body).length === 0) return { data: { ...previousData, id } };
    const updated = await api<RaRecord & { slug?: string }>(`${pathOf(resource)}${id}/`, { method: 'PATCH', body: JSON.stringify(body) });
    return { data: resource === 'categories' ? { ...updated, id: updated.slug! } : updated };
  },

  async updateMany(): Promise<never> {
    throw new Error('Not supported');
  },

  async delete(resource: string, { id, previousData }: { id: string; previousData?: RaRecord }) {
    await api(`${pathOf(resource)}${id}/`, { method: 'DELETE' });
    return { data: previousData ?? { id } };
  },

  async deleteMany(resource: string, { ids }: { ids: string[] }) {
    for (const id of ids) await api(`${pathOf(resource)}${id}/`, { method: 'DELETE' });
    return { data: ids };
  },

  /** Order actions: POST orders/{id}/ship/ or cancel/. */
  async orderAction(id: string, action: 'ship' | 'cancel') {
    return { data: await api<RaRecord>(`${pathOf('orders')}${id}/${action}/`, json({})) };
  },

  /** A new signing secret for a subscription (the old one signs for 24 h more). */
  async rotateSecret(id: string) {
    return api<{ secret: string; previous_secret_expires_at: string }>(`${pathOf('webhooks')}${id}/rotate-secret/`, { method: 'POST' });
  },

  /** Sends a delivery's event again (same webhook-id); the answer is the new attempt's id. */
  async redeliver(subscriptionId: string, deliveryId: string) {
    return api<{ id: string }>(`${pathOf('webhooks')}${subscriptionId}/deliveries/${deliveryId}/redeliver/`, { method: 'POST' });
  },
} as unknown as DataProvider & {
  orderAction(id: string, action: 'ship' | 'cancel'): Promise<{ data: RaRecord }>;
  rotateSecret(id: string): Promise<{ secret: string; previous_secret_expires_at: string }>;
  redeliver(subscriptionId: string, deliveryId: string): Promise<{ id: string }>;
};
