/**
 * What every request's input goes through before its route's schema: JSON bodies (an empty one
 * is no body), and one check that no text holds a NUL character.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError, type FieldError } from '../errors.ts';

/**
 * Many mobile HTTP stacks send `Content-Type: application/json` on every request, bodiless ones
 * included (DELETE, checkout, logout): API.md says such a request is the same as one without the
 * header. Anything else goes to Fastify's own parser (prototype poisoning refused).
 */
function registerJsonParser(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
}

/** Where NUL characters sit in a parsed input, as field paths (`order_items/0/name`, `search`). */
function nulFields(value: unknown, path: string, found: FieldError[]): void {
  if (found.length >= 10) return;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) found.push({ field: path, message: 'must not contain a NUL character (U+0000)' });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => nulFields(item, path ? `${path}/${i}` : String(i), found));
    return;
  }
  for (const [key, inner] of Object.entries(value)) {
    const name = key.replaceAll('\u0000', '\\u0000');
    if (key.includes('\u0000')) found.push({ field: path ? `${path}/${name}` : name, message: 'must not contain a NUL character (U+0000)' });
    nulFields(inner, path ? `${path}/${name}` : name, found);
  }
}

/**
 * PostgreSQL cannot store U+0000 in text, so a NUL in any field reached the database as a 500.
 * It is refused here, once for every route, before the route's own validation: no field of this
 * API has a use for it, and stripping it would silently change what the user sent (a password,
 * a search). docs/reliability.md records the decision.
 */
function refuseNul(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
  const found: FieldError[] = [];
  nulFields(request.params, '', found);
  nulFields(request.query, '', found);
  nulFields(request.body, '', found);
  if (found.length === 0) {
    done();
    return;
  }
  done(new AppError('validation_failed', 'The request is not valid', { errors: found }));
}

export function registerInputHandling(app: FastifyInstance) {
  registerJsonParser(app);
  app.addHook('preValidation', refuseNul);
}
