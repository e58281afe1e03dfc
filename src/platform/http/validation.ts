/**
 * Request validation: TypeBox's compiled checks, with stricter reading of query, path and header
 * numbers. TypeBox's Value.Convert reads `true` as 1, `1.5` as 1 for an integer and `0x10` as 16;
 * API.md says integer parameters are integers, so such strings fail here before conversion.
 */
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { MAX_OFFSET, offsetTooDeep } from '../pagination.ts';

const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

interface PropertySchema {
  type?: string | string[];
  anyOf?: PropertySchema[];
}

/** The textual form a property's value must have: only numbers are constrained here. */
function numericForm(schema: PropertySchema): RegExp | undefined {
  const types = new Set<string>();
  for (const s of schema.anyOf ?? [schema]) for (const t of [s.type ?? []].flat()) types.add(t);
  if (types.has('string')) return undefined;
  if (types.has('number')) return NUMBER;
  if (types.has('integer')) return INTEGER;
  return undefined;
}

function strictNumbers(schema: TSchema): Array<[string, RegExp]> {
  const properties = (schema as { properties?: Record<string, PropertySchema> }).properties ?? {};
  return Object.entries(properties).flatMap(([name, property]) => {
    const form = numericForm(property);
    return form ? [[name, form] as [string, RegExp]] : [];
  });
}

function notANumber(name: string, form: RegExp): FastifySchemaValidationError {
  const type = form === INTEGER ? 'integer' : 'number';
  return { keyword: 'type', instancePath: `/${name}`, schemaPath: `#/properties/${name}/type`, params: { type }, message: `must be ${type}` };
}

/** At most this many errors are reported for one request. */
export const MAX_REPORTED_ERRORS = 10;
/** The view errors are computed on keeps this many members of an object, items of an array. */
const VIEW_KEYS = 64;
/** Above every maxItems of a request schema (100 order lines), so a too-long list still fails. */
const VIEW_ITEMS = 256;
/** Below it the view stops copying: the input was already refused deeper (input.ts). */
const VIEW_DEPTH = 40;

interface ShapeSchema {
  properties?: Record<string, ShapeSchema>;
  items?: ShapeSchema;
}

/**
 * A bounded copy of a refused body: TypeBox's Check stops at the first failure, but its Errors
 * walks every member whatever its error cap (80,000 unknown keys to POST register/ took 1 s of
 * the event loop for 8 errors). Errors run on this copy instead: an object keeps the members its
 * schema names, then others up to VIEW_KEYS; an array its first VIEW_ITEMS items. Whatever made
 * the body fail is still in the copy (an unknown key, a list over its maxItems, a bad value of a
 * named member); only the count of such faults is cut short.
 */
function errorView(value: unknown, schema: ShapeSchema | undefined, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > VIEW_DEPTH) return value;
  if (Array.isArray(value)) return value.slice(0, VIEW_ITEMS).map((item) => errorView(item, schema?.items, depth + 1));
  const record = value as Record<string, unknown>;
  const named = Object.keys(schema?.properties ?? {}).filter((key) => Object.hasOwn(record, key));
  const keys = new Set(named);
  for (const key in record) {
    if (keys.size >= named.length + VIEW_KEYS) break;
    if (Object.hasOwn(record, key)) keys.add(key);
  }
  return Object.fromEntries([...keys].map((key) => [key, errorView(record[key], schema?.properties?.[key], depth + 1)]));
}

function bodyValidator(schema: TSchema) {
  const compiled = Compile(schema);
  return (value: unknown) => {
    if (compiled.Check(value)) return { value };
    const errors = compiled.Errors(errorView(value, schema as ShapeSchema)).slice(0, MAX_REPORTED_ERRORS);
    const fallback = { keyword: 'type', instancePath: '', schemaPath: '#', params: {}, message: 'is not valid' };
    return { error: (errors.length > 0 ? errors : [fallback]) as FastifySchemaValidationError[] };
  };
}

type Validate = (value: unknown) => { value?: unknown; error?: FastifySchemaValidationError[] | Error };

/** An offset past MAX_OFFSET says where deeper pages are (API.md: the cursor). */
function explainOffset(schema: TSchema, validate: Validate): Validate {
  const properties = (schema as { properties?: Record<string, { maximum?: number }> }).properties ?? {};
  if (properties['offset']?.maximum !== MAX_OFFSET) return validate;
  const message = offsetTooDeep('cursor' in properties);
  return (value) => {
    const result = validate(value);
    if (!Array.isArray(result.error)) return result;
    return { error: result.error.map((e) => (e.instancePath === '/offset' && e.keyword === 'maximum' ? { ...e, message } : e)) };
  };
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  if (route.httpPart === 'body') return bodyValidator(route.schema);
  return explainOffset(route.schema, queryValidator(route));
};

function queryValidator(route: Parameters<FastifySchemaCompiler<TSchema>>[0]): Validate {
  const check = TypeBoxValidatorCompiler(route) as Validate;
  const numbers = strictNumbers(route.schema);
  if (numbers.length === 0) return check;
  return (value: unknown) => {
    const input = value as Record<string, unknown> | null;
    const wrong = numbers.filter(([name, form]) => {
      const sent = input?.[name];
      return sent !== undefined && !(Array.isArray(sent) ? sent : [sent]).every((v) => typeof v === 'number' || (typeof v === 'string' && form.test(v)));
    });
    if (wrong.length > 0) return { error: wrong.map(([name, form]) => notANumber(name, form)) };
    return check(value);
  };
}
