/**
 * Applies the SQL files of migrations/ in name order, each once, recorded in
 * public.schema_migrations. All pending files run in one transaction under an advisory lock, so
 * two processes starting together cannot both migrate and a failed file leaves nothing behind.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from './paths.ts';
import type { Database } from './db.ts';

export const MIGRATIONS_DIR = path.join(projectRoot(), 'migrations');
const LOCK_KEY = 7_263_001;

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Array<{ name: string; sql: string }>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(path.join(dir, name), 'utf8') })));
}

/** The few operations a migration needs, on one connection inside one transaction. */
interface ScriptSession {
  exec(script: string): Promise<void>;
  names(): Promise<string[]>;
}

const SETUP = `
  select pg_advisory_xact_lock(${LOCK_KEY});
  create table if not exists public.schema_migrations (
    name text primary key,
    applied_at timestamptz not null default now()
  );`;

/** Returns the names of the migrations it applied. */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await listMigrations(dir);
  return inTransaction(db, async (session) => {
    await session.exec(SETUP);
    const applied = new Set(await session.names());
    const pending = migrations.filter((m) => !applied.has(m.name));
    for (const m of pending) {
      await session.exec(m.sql);
      await session.exec(`insert into public.schema_migrations (name) values ('${m.name.replaceAll("'", "''")}')`);
    }
    return pending.map((m) => m.name);
  });
}

async function inTransaction<T>(db: Database, fn: (session: ScriptSession) => Promise<T>): Promise<T> {
  const namesQuery = 'select name from public.schema_migrations';
  if (db.raw.kind === 'pglite') {
    return db.raw.client.transaction(async (tx) =>
      fn({
        exec: async (script) => void (await tx.exec(script)),
        names: async () => (await tx.query<{ name: string }>(namesQuery)).rows.map((r) => r.name),
      }),
    );
  }
  const client = await db.raw.pool.connect();
  try {
    await client.query('begin');
    const result = await fn({
      exec: async (script) => void (await client.query(script)),
      names: async () => (await client.query<{ name: string }>(namesQuery)).rows.map((r) => r.name),
    });
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
