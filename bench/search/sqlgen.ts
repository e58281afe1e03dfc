/**
 * Prints, with its parameters inlined, the SQL one search runs (page, count, facets pass,
 * suggestions), to read its plan: `EXPLAIN (ANALYZE, BUFFERS)` each in psql.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opply_search_1m npx tsx bench/search/sqlgen.ts "organic greek"
 */
import { PgDialect } from 'drizzle-orm/pg-core';
import { createDatabase } from '../../src/platform/db.ts';
import { expandSearch } from '../../src/modules/catalog/search.ts';
import { suggestionsQuery } from '../../src/modules/catalog/suggest.ts';
import * as repo from '../../src/modules/catalog/repo.ts';
import { facetsQuery } from '../../src/modules/catalog/facets.ts';
const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/search_bench';
const db = await createDatabase({ url, deadlines: { statementMs: 60_000, queryMs: 70_000 } });
const dialect = new PgDialect();
const inline = (q: { sql: string; params: unknown[] }) =>
  q.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const v = q.params[Number(n) - 1];
    return typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`;
  }).replace(/\s+/g, ' ');
const text = process.argv[2]!;
const terms = await expandSearch(db.primary, text);
console.error(JSON.stringify(terms));
const filter: repo.ProductFilter = { search: text, terms, inStock: true };
const out = {
  page: repo.offsetQuery(filter, { column: 'relevance', descending: false }, 0, 21),
  count: repo.countQuery(filter),
  facets: facetsQuery(filter),
  suggest: suggestionsQuery(terms),
};
for (const [k, v] of Object.entries(out)) console.log(`-- ${k}\n${inline(dialect.sqlToQuery(v))};`);
await db.close();
