import { DrizzleQueryError } from 'drizzle-orm';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

/**
 * Errors as pino logs them, except that a failed query keeps its SQL but loses its parameters:
 * drizzle puts them in the error (`params`) and in its message and stack, and they are user data
 * (an email, a password hash on registration). The cause (the driver's error) is kept.
 */
function serializeError(error: unknown): unknown {
  const out = pino.stdSerializers.err(error as Error);
  if (!(error instanceof DrizzleQueryError)) return out;
  const message = `Failed query: ${error.query}`;
  const hidden = (text: string | undefined) => text?.replace(error.message, message);
  return { ...out, message: hidden(out.message), stack: hidden(out.stack), params: undefined };
}

/** JSON logs; credentials are redacted wherever they appear in a logged request or object. */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.log.level,
      base: { service: 'opply-commerce' },
      serializers: { err: serializeError },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          '*.password',
          '*.password2',
          '*.refresh',
          '*.access',
          '*.token',
          '*.passwordHash',
          '*.password_hash',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
