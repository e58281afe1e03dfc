/**
 * Sign-in, sign-out and the staff check, through the public identity API only. A customer's
 * credentials are valid, so the server signs them in; the console then reads `is_staff`, signs
 * the session straight out again and shows no data.
 */
import type { AuthProvider } from 'react-admin';
import { api, json, loadSession, saveSession } from './api.ts';

export const STAFF_ONLY = 'This console is for staff. Your account is a customer account: use the app to shop.';

interface Me {
  id: string;
  username: string;
  first_name: string;
  last_name: string;
  is_staff: boolean;
}

async function signOut() {
  const session = loadSession();
  if (!session) return;
  try {
    await api('/api/identity/logout/', json({ refresh: session.refresh }));
  } catch {
    // Already expired or revoked: nothing left to end on the server.
  } finally {
    saveSession(undefined);
  }
}

export const authProvider: AuthProvider = {
  async login({ username, password }: { username: string; password: string }) {
    saveSession(undefined);
    const pair = await api<{ access: string; refresh: string }>('/api/identity/token/', json({ username, password }));
    saveSession({ access: pair.access, refresh: pair.refresh, username });
    const me = await api<Me>('/api/identity/me/');
    if (!me.is_staff) {
      await signOut();
      throw new Error(STAFF_ONLY);
    }
  },
  logout: signOut,
  async checkAuth() {
    if (!loadSession()) throw new Error('Please sign in');
  },
  async checkError(error: { status?: number }) {
    // 401 after the refresh and retry: the session is over. 403: not staff (any more).
    if (error.status === 401 || error.status === 403) {
      saveSession(undefined);
      throw new Error('Your session has ended; please sign in again');
    }
  },
  async getIdentity() {
    const me = await api<Me>('/api/identity/me/');
    const fullName = [me.first_name, me.last_name].filter(Boolean).join(' ') || me.username;
    return { id: me.id, fullName };
  },
};
