/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements a search request runs, for the queries given:
 * `BENCH_DATABASE_URL=postgres://… npx tsx bench/search/explain.ts colombia col "organic greek"`.
 * Prints per query and statement the execution time, the planning time and the shared blocks
 * (hit + read): load-robust figures where the bench's latencies are not.
 */
import pg from 'pg';
import { PgDialect } from 'drizzle-orm/pg-core';
import { createDatabase } from '../../src/platform/db.ts';
import { countQuery, offsetQuery } from '../../src/modules/catalog/repo.ts';
import { expandSearch, expansionQuery } from '../../src/modules/catalog/search.ts';
import { suggestionsQuery } from '../../src/modules/catalog/suggest.ts';
import { facetsQuery } from '../../src/modules/catalog/facets.ts';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('BENCH_DATABASE_URL is required');
const verbose = process.env.EXPLAIN_PLANS === '1';
const db = await createDatabase({ url, poolMax: 1, deadlines: { statementMs: 0, queryMs: 0 } });
const client = new pg.Client({ connectionString: url });
await client.connect();
const dialect = new PgDialect();

async function explain(label: string, query: Parameters<PgDialect['sqlToQuery']>[0]) {
  const { sql: text, params } = dialect.sqlToQuery(query);
  const result = await client.query(`explain (analyze, buffers, format json) ${text}`, params);
  const [plan] = (result.rows[0] as { 'QUERY PLAN': Array<Record<string, unknown>> })['QUERY PLAN'];
  const top = plan!.Plan as Record<string, number>;
  const blocks = (top['Shared Hit Blocks'] ?? 0) + (top['Shared Read Blocks'] ?? 0);
  console.log(`| ${label} | ${Number(plan!['Execution Time']).toFixed(1)} | ${Number(plan!['Planning Time']).toFixed(1)} | ${blocks} (${top['Shared Read Blocks'] ?? 0} read) | ${top['Actual Rows']} |`);
  if (verbose) {
    const textPlan = await client.query(`explain (analyze, buffers) ${text}`, params);
    console.log(textPlan.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n'));
  }
}

console.log('| query · statement | execution ms | planning ms | shared blocks | rows |');
console.log('|---|---|---|---|---|');
for (const q of process.argv.slice(2)) {
  const terms = await expandSearch(db.primary, q);
  const filter = { search: q, terms, inStock: true };
  await explain(`${q} · expansion`, expansionQuery(q));
  await explain(`${q} · page (21 rows)`, offsetQuery(filter, { column: 'relevance', descending: false }, 0, 21));
  await explain(`${q} · count`, countQuery(filter));
  await explain(`${q} · facets (one pass)`, facetsQuery(filter));
  await explain(`${q} · suggestion`, suggestionsQuery(terms));
}
await client.end();
await db.close();
