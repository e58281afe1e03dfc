/**
 * Users with real tokens for HTTP tests: customers sign up through POST register/, staff are made
 * through the service (there is no public staff sign-up); both then sign in through POST token/.
 */
import { randomUUID } from 'node:crypto';
import type { TestApp } from './test-app.ts';

export interface TestUser {
  id: string;
  username: string;
  password: string;
  access: string;
  refresh: string;
  /** Headers for `app.inject`. */
  auth: { authorization: string };
}

let counter = 0;
let addresses = 0;
/** A client address of its own per sign-in, so the per-address login throttle never trips. */
const nextAddress = () => {
  const n = ++addresses;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};

export async function createUser(t: TestApp, opts: { staff?: boolean; username?: string; password?: string } = {}): Promise<TestUser> {
  const username = opts.username ?? `user${++counter}_${randomUUID().slice(0, 8)}`;
  const password = opts.password ?? `pw-${randomUUID()}`;
  const email = `${username.toLowerCase()}@example.com`;
  let id: string;
  if (opts.staff) {
    id = (await t.services.identity.createStaff({ username, email, password })).id;
  } else {
    const res = await t.app.inject({ method: 'POST', url: '/api/identity/register/', payload: { username, email, password } });
    if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
    id = res.json().id;
  }
  const tokens = await login(t, username, password);
  return { id, username, password, ...tokens, auth: { authorization: `Bearer ${tokens.access}` } };
}

/** Signs in through POST token/. */
export async function login(t: TestApp, username: string, password: string): Promise<{ access: string; refresh: string }> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/identity/token/',
    payload: { username, password },
    remoteAddress: nextAddress(),
  });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { access: body.access, refresh: body.refresh };
}
