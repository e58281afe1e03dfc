import { trace } from '@opentelemetry/api';
import { DrizzleQueryError } from 'drizzle-orm';
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
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

/** The trace and span a line was written in, when it was written during a traced request. */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Where lines go when no destination is given: JSON on stdout, or one readable line each
 * (pino-pretty, written synchronously in this thread) with LOG_FORMAT=pretty, or with `auto` on a
 * terminal outside production. A pipe or a file still gets JSON unless asked otherwise.
 */
function defaultDestination(config: Config): DestinationStream {
  const { format } = config.log;
  const readable = format === 'pretty' || (format === 'auto' && !config.production && process.stdout.isTTY === true);
  if (!readable) return jsonLines();
  return pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/**
 * JSON lines on stdout, written LOG_FLUSH_BYTES at a time or every LOG_FLUSH_MS, whichever comes
 * first. Pino's default writes each line as it comes (one write request per access line when the
 * last one has finished: a thread-pool hop and a system call per request under light load, ~10 %
 * of the order path's CPU in bench:orders' profile). Lines reach stdout at most LOG_FLUSH_MS late;
 * on exit (also after an uncaught exception) pino writes what is buffered. A process killed
 * outright (SIGKILL, the OOM killer) loses at most that last fraction of a second of lines.
 */
const LOG_FLUSH_BYTES = 4096;
const LOG_FLUSH_MS = 100;
const jsonLines = () => pino.destination({ dest: process.stdout.fd, minLength: LOG_FLUSH_BYTES, periodicFlush: LOG_FLUSH_MS });

/**
 * JSON logs; credentials are redacted wherever they appear in a logged request or object. With
 * tracing on, every line written inside a request carries its trace id (a mixin runs on every
 * line, so it is only there when tracing is).
 */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  destination ??= defaultDestination(config);
  return pino(
    {
      level: config.log.level,
      base: { service: 'opply-commerce' },
      serializers: { err: serializeError },
      ...(config.tracing.endpoint ? { mixin: traceFields } : {}),
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
