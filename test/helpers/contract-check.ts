/**
 * Checks one answer against the OpenAPI document, as a generated client would read it: the path
 * and method are an operation, the status is documented for it (exactly, as `4XX`, or `default`),
 * the media type is one documented for that status, and the body is valid against its schema.
 * Answers outside every operation (unknown routes, the router's own 414) must be problem+json.
 * Every answer carries X-Request-Id, and a problem's `request_id` is that header.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export interface Answer {
  method: string;
  url: string;
  requestHeaders?: Record<string, unknown>;
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

interface MediaType {
  schema?: object;
}
interface Response {
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, Response>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: object;
}

const PROBLEM = 'application/problem+json';
/** What an answer outside every operation must be: an error in the problem shape. */
const OUTSIDE_OPERATIONS: Response = { content: { [PROBLEM]: { schema: { $ref: '#/components/schemas/Problem' } } } };

/** A path template as a pattern: `{id}` is one segment; the trailing slash is optional (served both ways). */
function templatePattern(template: string): RegExp {
  const body = template
    .replace(/\/$/, '')
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}/?$`);
}

/** `text/plain; version=0.0.4; charset=utf-8` → `text/plain; version=0.0.4`: the charset is not part of the contract. */
export function mediaType(contentType: unknown): string {
  return String(contentType ?? '')
    .split(';')
    .map((part) => part.trim().toLowerCase())
    .filter((part) => part && !part.startsWith('charset='))
    .join('; ');
}

export function createContractChecker(document: OpenApiDocument, options: { outsideContract?: (answer: Answer) => boolean } = {}) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  // Component references resolve against the document, registered once under its own id.
  ajv.addSchema({ $id: 'openapi', components: document.components ?? {} });
  const validators = new WeakMap<object, ValidateFunction>();
  const validatorFor = (schema: object) => {
    let validate = validators.get(schema);
    if (!validate) {
      const rooted = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as object;
      validators.set(schema, (validate = ajv.compile(rooted)));
    }
    return validate;
  };
  const templates = Object.keys(document.paths).map((path) => ({ path, pattern: templatePattern(path) }));

  function operationOf(answer: Answer): Operation | undefined {
    const path = answer.url.split('?')[0]!;
    const method = answer.method.toLowerCase() === 'head' ? 'get' : answer.method.toLowerCase();
    return templates.filter((t) => t.pattern.test(path)).map((t) => document.paths[t.path]![method]).find(Boolean);
  }

  function bodyProblems(answer: Answer, response: Response): string[] {
    const content = response.content;
    const sent = mediaType(answer.headers['content-type']);
    if (!content || Object.keys(content).length === 0) {
      return answer.body.length === 0 ? [] : [`status ${answer.status} is documented without a body, but one was sent (${sent})`];
    }
    if (answer.method.toUpperCase() === 'HEAD') return [];
    const media = content[sent] ?? content[sent.split(';')[0]!];
    if (!media) return [`media type "${sent}" is not documented for status ${answer.status} (documented: ${Object.keys(content).join(', ')})`];
    if (!media.schema) return [];
    let value: unknown = answer.body;
    if (/[/+]json$/.test(sent.split(';')[0]!)) {
      try {
        value = JSON.parse(answer.body);
      } catch {
        return [`body is not JSON: ${answer.body.slice(0, 100)}`];
      }
    }
    const validate = validatorFor(media.schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? 'is invalid'} (${e.schemaPath})`);
  }

  function requestIdProblems(answer: Answer): string[] {
    const id = answer.headers['x-request-id'];
    if (typeof id !== 'string' || id.length === 0) return ['no X-Request-Id header'];
    if (mediaType(answer.headers['content-type']) !== PROBLEM) return [];
    try {
      const requestId = (JSON.parse(answer.body) as { request_id?: unknown }).request_id;
      return requestId === id ? [] : [`problem request_id ${String(requestId)} is not the X-Request-Id ${id}`];
    } catch {
      return [];
    }
  }

  /** What is wrong with this answer, as readable lines; empty when it keeps the contract. */
  function check(answer: Answer): string[] {
    const problems = requestIdProblems(answer);
    const operation = operationOf(answer);
    if (!operation) {
      if (answer.status < 400 && options.outsideContract?.(answer)) return problems;
      if (answer.status < 400) return [...problems, `status ${answer.status} from an undocumented operation`];
      return [...problems, ...bodyProblems(answer, OUTSIDE_OPERATIONS)];
    }
    const status = String(answer.status);
    const response = operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses['default'];
    if (!response) return [...problems, `status ${status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`];
    return [...problems, ...bodyProblems(answer, response)];
  }

  return { check };
}
