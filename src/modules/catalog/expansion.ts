/**
 * The expansion of query words (search.ts's expandSearch), remembered per process. A word's
 * expansion depends only on the word dictionary, which changes only with the catalog's content
 * (names and descriptions: staff changes, which move the content version; orders never do), so
 * each process keeps the words it expanded for the current content version and drops them all
 * when the version moves. Suggestions are asked on every keystroke, and each keystroke repeats
 * the words before it (`organic gr`, `organic gre`): those are not expanded again, and a query
 * whose words are all known costs no round trip to the database for its expansion.
 *
 * Only queries of ASCII letters, digits and separators are split here, where lowering A–Z and
 * splitting on anything else is exactly what catalog.search_words does; any other query (accents,
 * other scripts) is expanded by the database as before, uncached.
 */
import type { CatalogCache } from './cache.ts';
import { expandSearch, expandWords, MAX_WORDS, type SearchTerm, type SearchTerms } from './search.ts';

/**
 * Words kept per process, oldest out first: a bound on memory (a word keeps at most 50 prefixes
 * and 20 typos, so a few MB at most); the seeded 1M catalog's whole vocabulary is 3,653 words.
 */
const KEPT_WORDS = 5_000;

/**
 * `contentVersion`: the content version when the caller has just read it (cache.ts's fetch reads
 * it with the shared entry); else it is read here.
 */
export type Expander = (text: string, contentVersion?: string | null) => Promise<SearchTerms>;

/** The words of a query as catalog.search_words gives them (distinct, sorted), or null when not plain ASCII. */
export function plainWords(text: string): string[] | null {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(text)) return null;
  const words = new Set(text.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w !== ''));
  // The database sorts them ("C" order for ASCII letters and digits) and keeps the first eight.
  return [...words].sort().slice(0, MAX_WORDS);
}

/**
 * Longest a word's expansion is kept, as the count is (cache.ts): a write the API did not make (an
 * import, a seed, a migration) moves no content version, and still shows within this.
 */
const KEEP_MS = 60_000;

/** A word that matches nothing: not kept, since the next product written (or a lagging replica catching up) can make it match. */
const matchesNothing = (term: SearchTerm) => term.exact.length === 0 && term.prefix.length === 0 && term.typo.length === 0;

export function createExpander(cache: Pick<CatalogCache, 'contentVersion' | 'read'>): Expander {
  let version: string | null = null;
  let keptSince = 0;
  const known = new Map<string, SearchTerm>();

  return async (text, contentVersion) => {
    const words = plainWords(text);
    const current = words === null ? null : contentVersion === undefined ? await cache.contentVersion() : contentVersion;
    if (words === null || current === null) return cache.read((db) => expandSearch(db, text));
    if (current !== version || Date.now() - keptSince > KEEP_MS) {
      known.clear();
      version = current;
      keptSince = Date.now();
    }
    const missing = words.filter((w) => !known.has(w));
    if (missing.length > 0) {
      const found = await cache.read((db) => expandWords(db, missing.join(' ')));
      // The version may have moved while the database answered: keep them only if it has not.
      if (version === current) {
        for (const { word, term } of found) {
          if (matchesNothing(term)) continue;
          if (known.size >= KEPT_WORDS) known.delete(known.keys().next().value!);
          known.set(word, term);
        }
      }
      const fresh = new Map(found.map((f) => [f.word, f.term]));
      const terms = words.map((w) => fresh.get(w) ?? known.get(w));
      // Should the database ever split a query otherwise, its own expansion answers.
      if (terms.some((t) => t === undefined)) return cache.read((db) => expandSearch(db, text));
      return terms as SearchTerms;
    }
    return words.map((w) => known.get(w)!);
  };
}
