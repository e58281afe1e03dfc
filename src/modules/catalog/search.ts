/**
 * Word search (migrations/0210_catalog_search.sql holds the schema). A query is normalized by the
 * same SQL function as the products' words (unaccent, lower, split on anything not a letter or
 * digit), and each of its words expands, through the dictionary's indexes, into the words it may
 * mean:
 *  - exact: the word itself and its singular/plural forms (`teas` → tea, `berry` → berries);
 *  - prefix: dictionary words it begins (`gre` → green, greek, grey), the shortest first;
 *  - typo: dictionary words within its typo budget (1 edit from 4 characters, 2 from 8), found
 *    by trigram similarity and confirmed by levenshtein.
 * A product matches when every query word meets one of its candidates, read from the postings
 * (migrations/0220_catalog_search_postings.sql: one row per word and live product, covering rank,
 * filters, count and facets), so a search never visits the products table except for the rows of
 * the page it shows.
 * Its rank is the sum over the query words of the best way each matched: exact in the name 6, in
 * the description 5, prefix 4/3, typo 2/1 — so exact beats prefix beats typo, name beats
 * description, and a product matching more of the words in its name (or exactly) comes first.
 */
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { SQL } from 'drizzle-orm';

export interface SearchTerm {
  exact: string[];
  prefix: string[];
  typo: string[];
}

/** One entry per distinct query word; none (a query of punctuation) matches nothing. */
export type SearchTerms = SearchTerm[];

/** More words than this add little but cost one index probe each. */
export const MAX_WORDS = 8;
/** Candidates per query word: enough for a catalog's vocabulary, bounded for a one-letter prefix. */
const PREFIX_CANDIDATES = 50;
const TYPO_CANDIDATES = 20;
/**
 * Below pg_trgm's default 0.3 on purpose: one edit in a four-letter word leaves it sharing only a
 * quarter of its trigrams (`gren`/`gran` 0.25), two edits in eight letters about a fifth.
 */
const TRIGRAM_THRESHOLD = '0.18';

/** A text[] as one parameter (drizzle would spread a JS array into a list of parameters). */
export function textArray(values: string[]): SQL {
  const literal = `{${values.map((v) => `"${v.replace(/["\\]/g, (ch) => `\\${ch}`)}"`).join(',')}}`;
  return sql`${literal}::text[]`;
}

/** Edits a word of this many characters may carry: 1 from 4 characters, 2 from 8 (numbers: none). */
export function typoBudget(word: string): number {
  if (/^[0-9]+$/.test(word)) return 0;
  const length = [...word].length;
  return length >= 8 ? 2 : length >= 4 ? 1 : 0;
}

/** The word with its English singular and plural forms (they count as exact matches). */
export function inflections(word: string): string[] {
  const forms = new Set([word]);
  if (/^[0-9]+$/.test(word) || word.length < 2) return [...forms];
  if (word.endsWith('ies') && word.length > 4) forms.add(`${word.slice(0, -3)}y`);
  if (/(s|x|z|ch|sh|o)es$/.test(word)) forms.add(word.slice(0, -2));
  if (word.endsWith('s') && !word.endsWith('ss')) forms.add(word.slice(0, -1));
  if (!word.endsWith('s') || word.endsWith('ss')) {
    if (/[^aeiou]y$/.test(word)) forms.add(`${word.slice(0, -1)}ies`);
    else if (/(s|x|z|ch|sh|o)$/.test(word)) forms.add(`${word}es`);
    forms.add(`${word}s`);
  }
  return [...forms];
}

/**
 * Expands a query into its terms: one statement, one round trip. The trigram threshold is set
 * inside it: `s` (fenced by OFFSET 0, so it stays a relation of its own and is not folded away)
 * runs set_config before any row reaches the select list, where the typo subquery's `%` scans the
 * trigram index; SET LOCAL semantics (`true`) end it with the statement's own transaction, so a
 * pooled connection keeps the default. It used to be a transaction of its own (BEGIN, the setting,
 * the expansion, COMMIT): four round trips where one does.
 */
export async function expandSearch(db: Db, text: string): Promise<SearchTerms> {
  return (await expandWords(db, text)).map((w) => w.term);
}

/** expandSearch with each term's query word (normalized as catalog.search_words does). */
export async function expandWords(db: Db, text: string): Promise<Array<{ word: string; term: SearchTerm }>> {
  const rows = await queryRows<{ word: string; known: string[]; prefixes: string[]; typos: string[] }>(db, expansionQuery(text));
  // Only the forms some product has (the dictionary holds every word but numbers): a term whose
  // candidates come down to one word needs no grouping per product (matchQuery).
  return rows.map((row) => {
    const exact = inflections(row.word).filter((w) => isNumber(w) || row.known.includes(w));
    const prefix = row.prefixes.filter((w) => !exact.includes(w));
    const typo = row.typos.filter((w) => !exact.includes(w) && !prefix.includes(w));
    return { word: row.word, term: { exact, prefix, typo } };
  });
}

/** The expansion statement: one row per query word with its known forms, prefixes and typos. */
export function expansionQuery(text: string): SQL {
  // The prefix range (>= w, < w || U+10FFFF) rather than LIKE: a pattern built per row cannot
  // use the index, a range on the "C"-collated key can.
  // `known`: which of the word's possible singular/plural forms some product has (a superset of
  // what inflections() can make: ±s, ±es, y↔ies); numbers are not in the dictionary.
  return sql`select q.w as word,
          array(select d.word from catalog.search_dictionary d
                where d.word = any(array[q.w, q.w || 's', q.w || 'es', left(q.w, -1), left(q.w, -2),
                                         left(q.w, -3) || 'y', left(q.w, -1) || 'ies']::text[])) as known,
          array(select d.word from catalog.search_dictionary d
                where d.word > q.w collate "C" and d.word < (q.w || chr(1114111)) collate "C"
                order by length(d.word), d.word limit ${PREFIX_CANDIDATES}) as prefixes,
          array(select d.word from catalog.search_dictionary d
                where q.budget > 0 and d.word % q.w and d.word <> q.w collate "C"
                  and abs(length(d.word) - length(q.w)) <= q.budget and levenshtein(d.word, q.w) <= q.budget
                order by levenshtein(d.word, q.w), d.word limit ${TYPO_CANDIDATES}) as typos
        from (select set_config('pg_trgm.similarity_threshold', ${TRIGRAM_THRESHOLD}, true) as threshold offset 0) s,
             (select w, ord, case when w ~ '^[0-9]+$' then 0 when length(w) >= 8 then 2 when length(w) >= 4 then 1 else 0 end as budget
              from unnest(catalog.search_words(${text})) with ordinality t(w, ord)
              order by ord limit ${MAX_WORDS}) q
        where s.threshold is not null
        order by q.ord`;
}

const isNumber = (word: string) => /^[0-9]+$/.test(word);

/** The product-level filters postings carry (repo's ProductFilter is one). */
export interface MatchFilter {
  categorySlug?: string | undefined;
  minPriceCents?: number | undefined;
  maxPriceCents?: number | undefined;
  inStock: boolean;
}

const allOf = (term: SearchTerm) => [...term.exact, ...term.prefix, ...term.typo];

/** How one posting of a term matched (6/5 exact, 4/3 prefix, 2/1 typo: in the name/description). */
function postingClass(x: SQL, term: SearchTerm): SQL {
  return sql`(case when ${x}.word = any(${textArray(term.exact)}) then (case when ${x}.in_name then 6 else 5 end)
    when ${x}.word = any(${textArray(term.prefix)}) then (case when ${x}.in_name then 4 else 3 end)
    when ${x}.in_name then 2 else 1 end)`;
}

export function postingFilters(x: SQL, filter: MatchFilter): SQL[] {
  const parts: SQL[] = [];
  if (filter.inStock) parts.push(sql`${x}.in_stock`);
  if (filter.categorySlug !== undefined) {
    parts.push(sql`${x}.category_id = (select id from catalog.categories where slug = ${filter.categorySlug})`);
  }
  if (filter.minPriceCents !== undefined) parts.push(sql`${x}.price_cents >= ${filter.minPriceCents}`);
  if (filter.maxPriceCents !== undefined) parts.push(sql`${x}.price_cents <= ${filter.maxPriceCents}`);
  return parts;
}

/**
 * The posting's word is one of the term's candidates. One candidate is written as an equality: the
 * planner then knows the range comes in product order and can merge-join two common words' ranges
 * (`organic espresso`: 268 blocks, where `= any('{espresso}')` hashed both, 1,007).
 */
function wordIn(x: SQL, term: SearchTerm): SQL {
  const words = allOf(term);
  return words.length === 1 ? sql`${x}.word = ${words[0]}` : sql`${x}.word = any(${textArray(words)})`;
}

/**
 * The postings of every product matching all terms and the filters, before grouping: one join of
 * catalog.search_postings per query word on the product (the planner drives from the rarest word
 * and probes the others through the primary key, or hashes when all are common), each row with the
 * sum of its words' classes. A product can appear more than once (two candidates of one word);
 * grouping by product and taking the greatest sum gives its rank.
 */
function matchingPostings(terms: SearchTerms, filter: MatchFilter, columns: SQL): SQL {
  const alias = (i: number) => sql.raw(`x${i}`);
  const joins = terms.slice(1).map((term, j) => {
    const x = alias(j + 1);
    return sql` join catalog.search_postings ${x} on ${x}.product_id = x0.product_id and ${wordIn(x, term)}`;
  });
  const where = [wordIn(sql.raw('x0'), terms[0]!), ...postingFilters(sql.raw('x0'), filter)];
  return sql`select ${columns} from catalog.search_postings x0${sql.join(joins, sql``)} where ${sql.join(where, sql` and `)}`;
}

function rankSum(terms: SearchTerms): SQL {
  return sql.join(terms.map((term, i) => postingClass(sql.raw(`x${i}`), term)), sql` + `);
}

/**
 * The matching live products, one row each: product_id, category_id, price_cents and rank (see the
 * header for the weights). Reads only the postings' primary key (index-only once vacuumed).
 */
export function matchQuery(terms: SearchTerms, filter: MatchFilter, columns: 'ranked' | 'facets' = 'facets'): SQL {
  const facets = columns === 'facets';
  if (terms.length === 0) return sql`select null::uuid as product_id, null::uuid as category_id, 0::bigint as price_cents, 0 as rank where false`;
  if (unique(terms)) {
    return matchingPostings(terms, filter, sql`x0.product_id, x0.category_id, x0.price_cents, ${rankSum(terms)} as rank`);
  }
  // Only the columns asked are grouped by: a smaller hash for a ranked page of many matches.
  const kept = facets ? sql`x0.product_id, x0.category_id, x0.price_cents` : sql`x0.product_id`;
  const rest = facets ? sql`` : sql`, null::uuid as category_id, null::bigint as price_cents`;
  return sql`${matchingPostings(terms, filter, sql`${kept}${rest}, max(${rankSum(terms)}) as rank`)} group by ${kept}`;
}

/** Every term down to one candidate word: a product has at most one posting per term, one row in all. */
const unique = (terms: SearchTerms) => terms.every((term) => allOf(term).length === 1);

/** The ids of the matching live products, each once. */
export function matchIdsQuery(terms: SearchTerms, filter: MatchFilter): SQL {
  if (terms.length === 0) return sql`select null::uuid as product_id where false`;
  const ids = matchingPostings(terms, filter, sql`x0.product_id`);
  return unique(terms) ? ids : sql`${ids} group by x0.product_id`;
}

/**
 * A bounded sample of the matches for type-ahead, each row a product with its rank (the caller
 * groups by product): at most `limit` postings read in all from the query words' own ranges, so
 * its cost does not grow with the catalog. One word: the first `limit` of its postings the index
 * yields. Several: each word in turn drives — the first `limit / words` of its postings in key
 * order (word, product), each probed for every other word through the primary key (a lateral
 * subquery: always that nested loop, never a join of whole ranges) — so a rare word finds all its
 * matches however common the others, and two common words that seldom meet cost a few hundred
 * probes, not their full ranges (before, `organic greek` joined 62,500 × 50,000 postings to find
 * that nothing matches).
 */
export function firstMatchesQuery(terms: SearchTerms, filter: MatchFilter, limit: number): SQL {
  if (terms.length === 0) return sql`select null::uuid as product_id, 0 as rank where false`;
  if (terms.length === 1) return sql`${matchingPostings(terms, filter, sql`x0.product_id, ${rankSum(terms)} as rank`)} limit ${limit}`;
  const share = Math.ceil(limit / terms.length);
  const drives = terms.map((driver, i) => {
    const others = terms.flatMap((term, j) => (j === i ? [] : [{ term, x: sql.raw(`x${j}`) }]));
    const probes = others.map(({ term, x }) =>
      sql` cross join lateral (select max(${postingClass(x, term)}) as class from catalog.search_postings ${x}
                               where ${x}.word = any(${textArray(allOf(term))}) and ${x}.product_id = d.product_id) ${x}`);
    const where = [sql`d.word = any(${textArray(allOf(driver))})`, ...postingFilters(sql.raw('d'), filter)];
    const sum = sql.join([postingClass(sql.raw('d'), driver), ...others.map(({ x }) => sql`${x}.class`)], sql` + `);
    return sql`select d.product_id, ${sum} as rank
      from (select d.product_id, d.word, d.in_name from catalog.search_postings d where ${sql.join(where, sql` and `)}
                 order by d.word, d.product_id limit ${share}) d${sql.join(probes, sql``)}
      where ${sql.join(others.map(({ x }) => sql`${x}.class is not null`), sql` and `)}`;
  });
  return sql.join(drives.map((d) => sql`(${d})`), sql` union all `);
}
