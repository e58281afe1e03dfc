/**
 * The relevance page of a one-word search without ranking every match (search.ts has the ranks).
 * A product's rank for one word is the best class among its postings for that word's candidates:
 * 6 exact in the name, 5 exact in the description, 4/3 prefix, 2/1 typo. So the ranking is a
 * sequence of streams, one per (class, candidate word), each read in product order straight from
 * the postings index on (word, in_name, product_id) (migrations/0230): the page is their merge by
 * (rank desc, product_id) and needs no more than offset + limit rows of each stream — a first
 * page of `colombia` (83,333 matches, two streams) reads ~42 postings instead of ranking all.
 *
 * Each product must come from exactly one stream, its best: a stream drops the products that have
 * a candidate of a better class (a probe of the primary key per row it yields), and within one
 * class the products already yielded by an earlier word of that class. The streams are then
 * disjoint and the merge needs no grouping.
 *
 * The cursor is (−rank, product_id), as for the full ranking: a position skips every stream of a
 * better rank (a worse one, walking back) and starts the stream of its own rank after its id.
 */
import { sql } from '../../platform/db.ts';
import type { SQL } from 'drizzle-orm';
import { postingFilters, textArray, type MatchFilter, type SearchTerm } from './search.ts';

/** Streams in one walk at most (two per candidate word); beyond, the full ranking is cheaper to plan. */
const MAX_STREAMS = 40;

interface Stream {
  rank: number;
  word: string;
  inName: boolean;
  /** A product with any of these words has a better class (or came from an earlier stream). */
  anyOf: string[];
  /** … or with any of these in its name. */
  inNameOf: string[];
}

/** The streams of one term, best rank first (see the header). */
export function streamsOf(term: SearchTerm): Stream[] {
  const tiers = [term.exact, term.prefix, term.typo];
  return tiers.flatMap((words, t) => {
    const better = tiers.slice(0, t).flat();
    const named = words.map((word, j) => ({ rank: 6 - 2 * t, word, inName: true, anyOf: better, inNameOf: words.slice(0, j) }));
    // In the description: any word of this tier in the name is a better class; an earlier word
    // of this tier in the description, an earlier stream of the same class.
    const described = words.map((word, j) => ({ rank: 5 - 2 * t, word, inName: false, anyOf: [...better, ...words.slice(0, j)], inNameOf: words.slice(j + 1) }));
    return [...named, ...described];
  });
}

export interface WalkPosition {
  /** The boundary row's rank and id. */
  rank: number;
  id: string;
  direction: 'after' | 'before';
}

function streamQuery(stream: Stream, filter: MatchFilter, position: WalkPosition | null, rows: number): SQL | undefined {
  const where = [sql`x.word = ${stream.word}`, sql`x.in_name = ${stream.inName}`, ...postingFilters(sql.raw('x'), filter)];
  if (position) {
    const after = position.direction === 'after';
    // Walking forward (rank desc), a better rank is behind the position; walking back, a worse one.
    if (after ? stream.rank > position.rank : stream.rank < position.rank) return undefined;
    if (stream.rank === position.rank) where.push(after ? sql`x.product_id > ${position.id}::uuid` : sql`x.product_id < ${position.id}::uuid`);
  }
  if (stream.anyOf.length > 0) {
    where.push(sql`not exists (select from catalog.search_postings h where h.word = any(${textArray(stream.anyOf)}) and h.product_id = x.product_id)`);
  }
  if (stream.inNameOf.length > 0) {
    where.push(sql`not exists (select from catalog.search_postings h where h.word = any(${textArray(stream.inNameOf)}) and h.product_id = x.product_id and h.in_name)`);
  }
  const idDir = sql.raw(position?.direction === 'before' ? 'desc' : 'asc');
  return sql`select x.product_id, ${sql.raw(String(stream.rank))} as rank from catalog.search_postings x where ${sql.join(where, sql` and `)}
             order by x.product_id ${idDir} limit ${rows}`;
}

/**
 * The page's (product_id, rank) rows in page order (rank desc, product_id; reversed walking back),
 * or undefined when the term has too many candidates for a walk (a one- or two-letter prefix).
 */
export function rankWalkQuery(term: SearchTerm, filter: MatchFilter, position: WalkPosition | null, offset: number, limit: number): SQL | undefined {
  const all = streamsOf(term);
  if (all.length > MAX_STREAMS) return undefined;
  const streams = all.flatMap((s) => streamQuery(s, filter, position, offset + limit) ?? []);
  if (streams.length === 0) return sql`select null::uuid as product_id, 0 as rank where false`;
  const dir = sql.raw(position?.direction === 'before' ? 'asc' : 'desc');
  const idDir = sql.raw(position?.direction === 'before' ? 'desc' : 'asc');
  // Each stream's first rows in index order (its own limit: a read that stops early), then their
  // merge by a sort of at most streams × (offset + limit) rows. Left to merge the streams whole,
  // the planner sorts all their rows (a parallel append of all 83,333 for `colombia`).
  return sql`select w.product_id, w.rank from (${sql.join(streams.map((s) => sql`(${s})`), sql` union all `)}) w
             order by w.rank ${dir}, w.product_id ${idDir} limit ${limit} offset ${offset}`;
}
