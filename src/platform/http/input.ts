/**
 * What every request's input goes through before its route's schema: JSON bodies (an empty one
 * is no body), one check that no text holds a NUL character, and a bound on how deep a body nests.
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

/**
 * How deep a request's JSON may nest. The deepest body of this API is three levels
 * (`order_items/0/quantity`); a bound well above it keeps every later step (this walk, the
 * schema check and its error list, the log) away from recursion that only the stack would stop:
 * ~2,000 levels (a 4 KB body) overflowed the recursive walk this replaced.
 */
export const MAX_INPUT_DEPTH = 32;

const NUL_MESSAGE = 'must not contain a NUL character (U+0000)';

const join = (path: string, name: string) => (path ? `${path}/${name}` : name);

/**
 * Where NUL characters sit in a parsed input, as field paths (`order_items/0/name`, `search`), in
 * document order; `tooDeep` when it nests deeper than MAX_INPUT_DEPTH. Iterative, with its own
 * stack, so no input can exhaust the call stack.
 */
function inspect(input: unknown, found: FieldError[]): { tooDeep: boolean } {
  const stack: Array<[value: unknown, path: string, depth: number]> = [[input, '', 0]];
  while (stack.length > 0 && found.length < 10) {
    const [value, path, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) found.push({ field: path, message: NUL_MESSAGE });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return { tooDeep: true };
    const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
    // Pushed in reverse so they are visited (and reported) in document order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      const name = key.replaceAll('\u0000', '\\u0000');
      stack.push([inner, join(path, name), depth + 1]);
      if (key.includes('\u0000')) stack.push([KEY_WITH_NUL, join(path, name), depth + 1]);
    }
  }
  return { tooDeep: false };
}

/** Stands for a key that holds a NUL, so it is reported where the key is, before its value. */
const KEY_WITH_NUL = '\u0000';

/**
 * PostgreSQL cannot store U+0000 in text, so a NUL in any field reached the database as a 500.
 * It is refused here, once for every route, before the route's own validation: no field of this
 * API has a use for it, and stripping it would silently change what the user sent (a password,
 * a search). docs/reliability.md records the decision.
 */
function refuseNul(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
  const found: FieldError[] = [];
  inspect(request.params, found);
  inspect(request.query, found);
  if (inspect(request.body, found).tooDeep) {
    done(new AppError('validation_failed', `The body nests deeper than ${MAX_INPUT_DEPTH} levels`, { errors: [{ field: 'body', message: `must not nest deeper than ${MAX_INPUT_DEPTH} levels` }] }));
    return;
  }
  if (found.length === 0) {
    done();
    return;
  }
  done(new AppError('validation_failed', 'The request is not valid', { errors: found }));
}

/**
 * Each route's body limit, by what its largest valid body can weigh (strings counted at six bytes
 * a character, JSON's worst escape), so a handful of large bodies cannot tie up parsing and
 * validation. Over it: 413 payload_too_large, before the body is read further.
 *  - default (identity, cart lines, categories, every other route): a register body at its
 *    longest is under 5 KB;
 *  - orderLines (POST orders/): 100 lines of `{"product": uuid, "quantity": n}`, pretty-printed;
 *  - product (staff product writes): a 10,000-character description.
 */
export const BODY_LIMITS = { default: 8 * 1024, orderLines: 32 * 1024, product: 64 * 1024 } as const;

/**
 * `ceiling` (BODY_LIMIT_BYTES) caps every route's limit. Must be registered before the routes:
 * a route that declares no `bodyLimit` gets the default.
 */
export function registerInputHandling(app: FastifyInstance, ceiling: number) {
  app.addHook('onRoute', (route) => {
    route.bodyLimit = Math.min(route.bodyLimit ?? BODY_LIMITS.default, ceiling);
  });
  registerJsonParser(app);
  app.addHook('preValidation', refuseNul);
}
