/**
 * Every route the app answers, read from Fastify's own route tree (`printRoutes`), so a route
 * added anywhere — a module, a plugin, the docs — shows up here without anyone listing it.
 */
import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** Fastify's path, e.g. /api/orders/orders/:id (trailing slashes are ignored by the router). */
  path: string;
}

const LINE = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/;

export function routeTable(app: FastifyInstance): RouteEntry[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: RouteEntry[] = [];
  for (const line of tree.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const segment = match[2]!;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + segment;
    stack[depth] = path;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) routes.push({ method, path });
  }
  return routes.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

export const routeKey = (r: RouteEntry) => `${r.method} ${r.path}`;
