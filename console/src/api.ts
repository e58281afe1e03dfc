/**
 * The console's only way to the server: the public API with the signed-in staff member's token.
 * A 401 triggers one refresh (rotation: the answer carries a new refresh token) and one retry.
 * Concurrent 401s share that one refresh: presenting the same refresh token twice counts as
 * reuse on the server, which revokes the whole session.
 */
import { HttpError } from 'react-admin';

export interface Session {
  access: string;
  refresh: string;
  username: string;
}

// sessionStorage: the session survives a reload but not the tab, and is not shared between tabs
// (two tabs rotating one refresh token would revoke each other).
const KEY = 'opply-console-session';

export function loadSession(): Session | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined) {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  errors?: { field: string; message: string }[];
}

/** A problem+json answer as react-admin's error, with its fields for forms. */
async function failure(response: Response): Promise<HttpError> {
  let body: Problem = {};
  try {
    body = (await response.json()) as Problem;
  } catch {
    // not JSON: the status says enough
  }
  const message = body.detail ?? body.title ?? `Request failed (${response.status})`;
  const errors = Object.fromEntries((body.errors ?? []).map((e) => [e.field.split('/')[0] ?? e.field, e.message]));
  return new HttpError(message, response.status, { ...body, errors });
}

async function send(path: string, init: RequestInit, access: string | undefined): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  if (access) headers.set('authorization', `Bearer ${access}`);
  return fetch(path, { ...init, headers });
}

let refreshing: Promise<boolean> | undefined;

/** One refresh at a time; every caller waiting on a 401 gets its outcome. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const session = loadSession();
    if (!session) return false;
    const response = await send('/api/identity/token/refresh/', { method: 'POST', body: JSON.stringify({ refresh: session.refresh }) }, undefined);
    if (!response.ok) {
      saveSession(undefined);
      return false;
    }
    const pair = (await response.json()) as { access: string; refresh: string };
    saveSession({ ...session, access: pair.access, refresh: pair.refresh });
    return true;
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

/** JSON from the API (undefined for 204), or an HttpError carrying the problem's detail. */
export async function api<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
  let response = await send(path, init, loadSession()?.access);
  if (response.status === 401 && loadSession() && (await refreshSession())) {
    response = await send(path, init, loadSession()?.access);
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const json = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });
