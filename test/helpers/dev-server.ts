/**
 * A server started as a person starts one (`npm start`, or its `node --import tsx src/server.ts`)
 * in a process of its own: development settings over an embedded database in `dataDir`, nothing
 * from this machine's environment that would change them, the log as JSON lines on stdout.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export function developmentEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    DATABASE_URL: '',
    REDIS_URL: '',
    JWT_SECRET: '',
    ADMIN_USERNAME: '',
    ADMIN_PASSWORD: '',
    ...extra,
  };
}

/** The start-up banner's log entry (port and text), once the server listens. */
export function startupBanner(child: ChildProcess): Promise<{ port: number; msg: string }> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line);
      if (typeof entry.msg === 'string' && entry.msg.startsWith('opply-commerce is up')) resolve(entry);
    });
    child.once('exit', (code) => reject(new Error(`the server exited early with ${code}`)));
  });
}
