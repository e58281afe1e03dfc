/** Controls the machine's streaming replica (scripts/replica) for the replica tests. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { testReplicaUrls } from '../helpers/test-env.ts';

const run = promisify(execFile);

/** The replica tests pause replay and stop the server: they run alone, in their own CI step. */
export const replicaExclusive = process.env.TEST_REPLICA_EXCLUSIVE === '1' && testReplicaUrls.length > 0;

export async function onReplica(text: string): Promise<void> {
  const url = new URL(testReplicaUrls[0]!);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export const pauseReplay = () => onReplica('select pg_wal_replay_pause()');
export const resumeReplay = () => onReplica('select pg_wal_replay_resume()');
export const stopReplica = () => run('bash', ['scripts/replica/stop-replica.sh']);
export const startReplica = () => run('bash', ['scripts/replica/start-replica.sh'], { timeout: 120_000 });

export async function eventually<T>(fn: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
