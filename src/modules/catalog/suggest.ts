/**
 * Type-ahead (`GET suggest/?q=`): up to ten product names for what was typed so far, matched like
 * a search (every word: exact, prefix, or within its typo budget). Called on every keystroke, so
 * its work is bounded whatever the catalog's size: the best-ranked of a sample of at most 500
 * in-stock postings (search.ts's firstMatchesQuery: one word's first 500; several words, each
 * word's first 500/n probed for the others), not of every match (a search shows those). Cached like
 * every catalog read, under the catalog version. A built one waits on one Redis round trip after
 * the token's (the version, the shared entry and the content version, read together: cache.ts's
 * fetch with `contentVersion`) and on one database round trip when this process has already
 * expanded every word typed (expansion.ts; the words before the one being typed always are), else
 * two: the new words' expansion, then this. The entry's write to Redis is not waited for.
 */
import { queryRows, sql, type Db } from '../../platform/db.ts';
import type { CatalogCache, MissReads } from './cache.ts';
import { renderEntry, type Rendered } from './present.ts';
import type { SuggestionJson } from './schemas.ts';
import type { Expander } from './expansion.ts';
import { firstMatchesQuery, type SearchTerms } from './search.ts';

const SUGGESTIONS = 10;
const CANDIDATES = 500;

export const suggestionsQuery = (terms: SearchTerms) =>
  sql`select p.id::text as id, p.name
        from (select c.product_id, max(c.rank) as rank from (${firstMatchesQuery(terms, { inStock: true }, CANDIDATES)}) c
              group by c.product_id order by rank desc, c.product_id limit ${SUGGESTIONS}) m
        join catalog.products p on p.id = m.product_id
        order by m.rank desc, m.product_id`;

async function suggestions(db: Db, terms: SearchTerms): Promise<SuggestionJson[]> {
  return queryRows<SuggestionJson>(db, suggestionsQuery(terms));
}

export async function suggest(cache: CatalogCache, expand: Expander, typed: string): Promise<Rendered> {
  // Spacing and case do not change the answer, so they share one entry.
  const key = `suggest:${typed.trim().replace(/\s+/g, ' ').toLowerCase()}`;
  const build = async ({ contentVersion }: MissReads) => {
    const terms = await expand(typed, contentVersion);
    const found = await cache.read((db) => suggestions(db, terms));
    return { header: '', body: JSON.stringify(found) };
  };
  // No coded copies made with the entry: a suggestion is about a kilobyte and mostly asked once
  // (the next keystroke asks another); one that is asked compressed is compressed then.
  const { entry } = await cache.fetch(key, build, undefined, { codedCopies: false, contentVersion: true });
  return renderEntry(entry, undefined, false);
}
