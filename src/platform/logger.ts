import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

/** JSON logs; credentials are redacted wherever they appear in a logged request or object. */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.log.level,
      base: { service: 'opply-commerce' },
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
