/**
 * The outage log's rhythm on a clock the test moves (the 30 s spacing cannot be waited for in a
 * test); test/faults/async-orders.test.ts shows it over a real PostgreSQL outage.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { expect, it } from 'vitest';
import { createOutageLog } from './outage-log.ts';

it('warns at the first failure, then once per 30 s with the count, and says once when it is back', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  let clock = 1_000_000;
  const log = createOutageLog(logger, { failing: 'down', recovered: 'back' }, { now: () => clock });
  const seen = () => lines.map((l) => [l['level'], l['msg'], l['failed_attempts'], l['down_ms']]);

  log.succeeded(); // nothing was down: nothing to say
  for (let tick = 0; tick < 5 * 70; tick++) {
    log.failed(new Error('connect ECONNREFUSED'), { waiting: 3 });
    clock += 200; // five attempts a second for 70 s
  }
  log.succeeded();
  expect(seen()).toEqual([
    [40, 'down', 1, 0],
    [40, 'down', 150, 30_000],
    [40, 'down', 150, 60_000],
    [30, 'back', 350, 70_000],
  ]);
  expect(lines[0]).toMatchObject({ waiting: 3, err: { message: 'connect ECONNREFUSED' } });

  // The next outage starts afresh: its first failure warns at once.
  log.failed(new Error('again'));
  expect(seen().at(-1)).toEqual([40, 'down', 1, 0]);
});
