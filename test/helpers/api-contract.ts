/**
 * The routes of the HTTP contract (docs/API.md) as `METHOD /path` lines: each `## Section —
 * \`/prefix/\`` heading gives the prefix its table rows are relative to; a first cell lists one
 * or more `METHOD[/METHOD…] path` items; paths that start with `/` are absolute (Operations).
 */
import { readFile } from 'node:fs/promises';

const METHODS = 'GET|POST|PUT|PATCH|DELETE';
const ITEM = new RegExp(`^((?:${METHODS})(?:/(?:${METHODS}))*) ?(.*)$`);

/** `/api/catalog/products/{id}/` and `/api/catalog/products/{slug}` compare equal. */
export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}').replace(/(.)\/$/, '$1')}`;
}

export function contractRoutes(markdown: string): Map<string, string> {
  const routes = new Map<string, string>();
  let prefix = '';
  for (const line of markdown.split('\n')) {
    const heading = /^## .*`(\/[^`]*)`/.exec(line);
    if (heading) prefix = heading[1]!;
    else if (line.startsWith('## ')) prefix = '';
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1]!;
    for (const [, item] of firstCell.matchAll(/`([^`]*)`/g)) {
      const match = ITEM.exec(item!);
      if (!match) continue;
      const path = match[2]!.trim();
      const full = path.startsWith('/') ? path : prefix + path;
      for (const method of match[1]!.split('/')) routes.set(routeKey(method, full), `${method} ${full}`);
    }
  }
  return routes;
}

export async function readContractRoutes(file = new URL('../../docs/API.md', import.meta.url)): Promise<Map<string, string>> {
  return contractRoutes(await readFile(file, 'utf8'));
}
