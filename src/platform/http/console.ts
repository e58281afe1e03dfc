/**
 * The staff console at /admin/: the committed build of console/ (console/dist), static files
 * only. It talks to the public API with a staff token like any other client; nothing here grants
 * access to anything (the files are public, the data behind them is not).
 *
 * Its page gets a Content-Security-Policy of its own, stricter than the API's default: styles
 * only from this origin or carrying this answer's nonce (MUI's emotion inserts <style> elements at
 * run time and stamps them with the nonce the page hands it), no inline script at all, requests
 * only to this origin, never framed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';

const NONCE_PLACEHOLDER = '__CSP_NONCE__';

export function consolePolicy(nonce: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "script-src-attr 'none'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function registerConsole(app: FastifyInstance, distDir: string) {
  const indexFile = path.join(distDir, 'index.html');
  // Read once: the page is small and changes only with a new build (a new process).
  const page = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : undefined;
  const hide = { hide: true };
  // The server ignores trailing slashes, so this route answers /admin too. The page's asset URLs
  // are absolute (/admin/assets/…), so it works from either.
  app.get('/admin/', { schema: hide }, (_request, reply) => {
    if (!page) throw new AppError('not_found', 'The console is not built: run `npm run build:console`');
    const nonce = randomBytes(16).toString('base64');
    return reply
      .header('content-security-policy', consolePolicy(nonce))
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(page.replaceAll(NONCE_PLACEHOLDER, nonce));
  });
  if (!page) return;
  // Asset names carry a content hash: cached for good.
  await app.register(fastifyStatic, {
    root: path.join(distDir, 'assets'),
    prefix: '/admin/assets/',
    decorateReply: false,
    index: false,
    immutable: true,
    maxAge: '365d',
    schemaHide: true,
  });
}
