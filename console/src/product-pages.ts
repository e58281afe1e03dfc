/**
 * Product lists walk the API's keyset cursors: page 1 starts a walk (`cursor=`), and each answer's
 * `next` link carries the cursor of the following page, remembered here per filter and sort.
 * react-admin's pages are sequential (previous / next), so every page asked for is one whose
 * cursor is known; a page that is not (a reloaded deep link) falls back to an offset read.
 */
import type { GetListParams, GetListResult, RaRecord } from 'react-admin';
import { api } from './api.ts';

interface CursorPage {
  next: string | null;
  results: RaRecord[];
}

const ORDERINGS: Record<string, string> = { name: 'name', price: 'price', created_at: 'created_at' };

/** Per walk (filters, sort, page size): page number → cursor of that page. */
const walks = new Map<string, Map<number, string>>();

function filters(params: GetListParams): Record<string, string> {
  const f = params.filter ?? {};
  const values: Record<string, unknown> = {
    search: f.q,
    category: f.category,
    min_price: f.min_price,
    max_price: f.max_price,
    // Staff see sold-out products too, unless they ask otherwise.
    in_stock: f.in_stock === true ? 'true' : 'false',
  };
  const field = ORDERINGS[params.sort?.field ?? ''];
  // A search is best read best match first: the list's default sort (newest) gives way to the
  // API's relevance order; a column the user sorts by (name, price) still applies.
  const byRelevance = values.search !== undefined && values.search !== '' && (field === undefined || field === 'created_at');
  if (field && !byRelevance) values.ordering = params.sort?.order === 'DESC' ? `-${field}` : field;
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [k, String(v)]));
}

export async function productPage(params: GetListParams): Promise<GetListResult> {
  const { page = 1, perPage = 25 } = params.pagination ?? {};
  const base = filters(params);
  const walkKey = JSON.stringify({ base, perPage });
  const walk = walks.get(walkKey) ?? new Map<number, string>([[1, '']]);
  walks.set(walkKey, walk);
  const cursor = walk.get(page);
  const search = new URLSearchParams({ ...base, limit: String(perPage) });
  if (cursor === undefined) search.set('offset', String((page - 1) * perPage));
  else search.set('cursor', cursor);
  const answer = await api<CursorPage>(`/api/catalog/products/?${search.toString()}`);
  const nextCursor = answer.next ? new URL(answer.next, location.href).searchParams.get('cursor') : null;
  if (nextCursor) walk.set(page + 1, nextCursor);
  // On the last page the total is known without counting; before it, only that more follow.
  const last = answer.next === null;
  return {
    data: answer.results,
    ...(last ? { total: (page - 1) * perPage + answer.results.length } : {}),
    pageInfo: { hasNextPage: !last, hasPreviousPage: page > 1 },
  };
}
