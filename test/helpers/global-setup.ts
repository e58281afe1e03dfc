/**
 * Migrates one template database per run; each test file then starts from a copy of it
 * (a PGlite data-dir dump, or CREATE DATABASE … TEMPLATE on PostgreSQL).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDatabase } from '../../src/platform/db.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { adminUrl, databaseUrl, isStale, stamp, TEMPLATE_PREFIX, TEST_DB_PREFIX } from './test-env.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    pgTemplate: string;
  }
}

export default async function setup(project: TestProject) {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'opply-test-'));
    const db = await createDatabase({});
    await migrate(db);
    if (db.raw.kind !== 'pglite') throw new Error('expected PGlite');
    const dump = await db.raw.client.dumpDataDir('gzip');
    await db.close();
    const file = path.join(dir, 'template.tar.gz');
    await writeFile(file, Buffer.from(await dump.arrayBuffer()));
    project.provide('pgliteTemplate', file);
    project.provide('pgTemplate', '');
    return async () => rm(dir, { recursive: true, force: true });
  }

  const template = `${TEMPLATE_PREFIX}${stamp()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl(url) });
  await admin.connect();
  // Databases left by an interrupted run would otherwise pile up. Names carry their creation
  // time, so a run removes only old ones and never those of a run going on beside it.
  const leftovers = await admin.query<{ datname: string }>(
    `select datname from pg_database where datname like '${TEST_DB_PREFIX}%' or datname like '${TEMPLATE_PREFIX}%'`,
  );
  for (const { datname } of leftovers.rows) {
    if (isStale(datname)) await admin.query(`drop database if exists "${datname}" with (force)`);
  }
  await admin.query(`create database "${template}"`);
  const db = await createDatabase({ url: databaseUrl(url, template) });
  await migrate(db);
  await db.close();
  project.provide('pgliteTemplate', '');
  project.provide('pgTemplate', template);
  return async () => {
    await admin.query(`drop database if exists "${template}" with (force)`);
    await admin.end();
  };
}
