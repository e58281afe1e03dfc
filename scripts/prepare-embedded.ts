/** Run by `npm install` (prepare): writes the initdb dump that makes the first start fast. */
import { existsSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLITE_EXTENSIONS } from '../src/platform/db.ts';
import { EMBEDDED_TEMPLATE, writeEmbeddedTemplate } from '../src/platform/embedded-template.ts';

if (!existsSync(EMBEDDED_TEMPLATE)) {
  const db = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  await writeEmbeddedTemplate(await db.dumpDataDir('gzip'));
  await db.close();
  console.log(`embedded database template written to ${EMBEDDED_TEMPLATE}`);
}
