/**
 * A fresh PGlite cluster takes 5–9 s to initdb in WASM on this class of machine; loading a dump of
 * one takes ~1.5 s. `npm install` (the `prepare` script) writes such a dump once, keyed by the PGlite
 * version, so that a first `npm start` is ready within seconds. Without it we fall back to initdb.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { projectRoot } from './paths.ts';

const root = projectRoot();
const manifest = path.join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json');
const version = existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version : 'unknown';

export const EMBEDDED_TEMPLATE = path.join(root, 'node_modules', '.cache', 'opply-commerce', `pglite-${version}-initdb.tar.gz`);

export async function readEmbeddedTemplate(): Promise<Blob | undefined> {
  if (!existsSync(EMBEDDED_TEMPLATE)) return undefined;
  return new Blob([await readFile(EMBEDDED_TEMPLATE)]);
}

export async function writeEmbeddedTemplate(dump: Blob): Promise<void> {
  await mkdir(path.dirname(EMBEDDED_TEMPLATE), { recursive: true });
  await writeFile(EMBEDDED_TEMPLATE, Buffer.from(await dump.arrayBuffer()));
}

/** A data directory that holds no cluster yet. */
export async function isEmptyDataDir(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return true;
  return !(await readdir(dir)).includes('PG_VERSION');
}
