-- The planner's estimate of a word's postings comes from the most common values of
-- search_postings.word, 100 by default. A catalog has more common words than that (the seed's
-- vocabulary plus sizes and numbers: 3,600 distinct words), so a word outside the list — `crisps`,
-- 25,000 postings at 1M products — was estimated at ~300, and `crisps colombia` ran as a nested
-- loop probing colombia once per crisps posting: 100,242 blocks, against ~1,200 for the hash or
-- merge join it gets with the word counted. 1,000 most common values cost a larger pg_statistic
-- row and a longer ANALYZE (~3 s on 9.5 million postings, loaded machine).
alter table catalog.search_postings alter column word set statistics 1000;
analyze catalog.search_postings;
