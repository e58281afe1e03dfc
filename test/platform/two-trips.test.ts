/**
 * platform/db.ts inTwoTrips: a transaction of two statements in two round trips (BEGIN and COMMIT
 * travel with them) on real PostgreSQL; a plain transaction elsewhere. Values are inlined as
 * escaped literals there, so hostile text must come back exactly and change nothing else.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeLiteral, inTwoTrips, queryRows, sql } from '../../src/platform/db.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-app.ts';
import { onRealPostgres } from '../helpers/test-env.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase({ replicas: false });
  await database.db.primary.execute(sql`create table public.trips (id int primary key, note text not null)`);
});
afterAll(async () => {
  await database.db.close();
  await database.drop();
});

const notes = async () => (await queryRows<{ note: string }>(database.db.primary, sql`select note from public.trips order by id`)).map((r) => r.note);

describe('inTwoTrips', () => {
  it("writes literals exactly as node-postgres's escapeLiteral does", () => {
    for (const text of ['', 'plain', "it's", 'back\\slash', "\\'", "''\\\\''", 'é ✓ \u0001 "x" $1', '{"a":"b\\"c"}']) {
      expect(escapeLiteral(text)).toBe(pg.escapeLiteral(text));
    }
  });

  it('commits both statements as one transaction; hostile text is a value, never SQL', async () => {
    const hostile = `it's \\' $1 $2 '); drop table public.trips; --\n\u00e9 "x"`;
    const seen = await inTwoTrips(database.db.primary, async (trips) => {
      const [row] = await trips.first<{ n: number }>(sql`insert into public.trips values (1, ${hostile}) returning length(note) as n`);
      await trips.last(sql`insert into public.trips values (2, ${`${row!.n}`})`);
      return row!.n;
    });
    expect(seen).toBe(hostile.length);
    expect(await notes()).toEqual([hostile, String(hostile.length)]);
  });

  it('a failure in the last statement, or between the two, rolls the first back', async () => {
    await expect(
      inTwoTrips(database.db.primary, async (trips) => {
        await trips.first(sql`insert into public.trips values (3, 'first')`);
        await trips.last(sql`insert into public.trips values (1, 'duplicate id')`);
      }),
    ).rejects.toThrow();
    await expect(
      inTwoTrips(database.db.primary, async (trips) => {
        await trips.first(sql`insert into public.trips values (4, 'first')`);
        throw new Error('decided against it');
      }),
    ).rejects.toThrow('decided against it');
    expect(await notes()).toHaveLength(2);
    // The connections went back usable: a plain query and another transaction still work.
    await inTwoTrips(database.db.primary, async (trips) => {
      await trips.first(sql`insert into public.trips values (5, 'again')`);
      await trips.last(sql`select 1`);
    });
    expect(await notes()).toHaveLength(3);
  });

  it.runIf(onRealPostgres)('costs two round trips on PostgreSQL (BEGIN and COMMIT ride along)', async () => {
    if (database.db.raw.kind !== 'postgres') return;
    const pool = database.db.raw.pool;
    const sent: string[] = [];
    let restore = () => undefined as void;
    // Counts what the checked-out connection is asked to send (real server, real answers).
    const count = (client: { query: (...a: unknown[]) => unknown }) => {
      const query = client.query;
      client.query = (...args: unknown[]) => {
        sent.push(String(args[0]));
        return query.apply(client, args);
      };
      restore = () => void (client.query = query);
    };
    pool.once('acquire', count as never);
    try {
      await inTwoTrips(database.db.primary, async (trips) => {
        await trips.first(sql`select id from public.trips where id = 1 for update`);
        await trips.last(sql`update public.trips set note = 'locked, then changed' where id = 1`);
      });
    } finally {
      restore();
    }
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^begin; select/);
    expect(sent[1]).toMatch(/; commit$/);
    expect((await notes())[0]).toBe('locked, then changed');
  });
});
