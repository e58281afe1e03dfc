/**
 * Request validation: TypeBox's compiled checks, with stricter reading of query, path and header
 * numbers. TypeBox's Value.Convert reads `true` as 1, `1.5` as 1 for an integer and `0x10` as 16;
 * API.md says integer parameters are integers, so such strings fail here before conversion.
 */
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TSchema } from 'typebox';

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

export const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const check = TypeBoxValidatorCompiler(route);
  if (route.httpPart === 'body') return check;
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
};
