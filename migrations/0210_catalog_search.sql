-- Word search over products (catalog/search.ts): every product carries its normalized words
-- (unaccent + lower, split on anything that is not a letter or digit), and a dictionary of every
-- word the catalog uses lets one query word expand, through indexes, into the dictionary words it
-- may mean: itself and its plural/singular, words it is a prefix of, and words within its typo
-- budget (trigram-filtered, then levenshtein). Products are then matched by those words through a
-- GIN index on the word arrays.
create extension if not exists unaccent;
create extension if not exists fuzzystrmatch;

-- unaccent() is only STABLE (its rules file could change under it); pinning the dictionary and
-- declaring the wrapper IMMUTABLE is what lets generated columns and indexes use it. Changing
-- unaccent.rules would need the columns recomputed (UPDATE … SET name = name).
create function catalog.search_words(input text) returns text[]
  language sql immutable strict parallel safe
  as $$
    select coalesce(array_agg(distinct w order by w), '{}')
    from unnest(regexp_split_to_array(lower(public.unaccent('public.unaccent'::regdictionary, input)), '[^[:alnum:]]+')) w
    where w <> ''
  $$;

alter table catalog.products
  add column name_words text[] generated always as (catalog.search_words(name)) stored,
  add column search_words text[] generated always as (catalog.search_words(name || ' ' || description)) stored;

-- Matching: each query word is an overlap (&&) of search_words with its candidate words.
create index products_search_words_idx on catalog.products using gin (search_words);
-- The substring search it replaces.
drop index if exists catalog.products_search_trgm_idx;

-- Every word with a letter in it (numbers such as batch numbers match only exactly, so they need
-- no entry). Collation "C" lets the primary key serve prefix LIKE; the trigram index serves typos.
create table catalog.search_dictionary (
  word text collate "C" primary key
);
create index search_dictionary_trgm_idx on catalog.search_dictionary using gin (word gin_trgm_ops);

insert into catalog.search_dictionary (word)
  select distinct w from catalog.products, unnest(search_words) w where w ~ '[^0-9]'
  on conflict do nothing;

-- New words enter the dictionary with the row that brings them: once per inserting statement (a
-- bulk seed is one statement per batch), and per row only when an UPDATE names name or
-- description, so the stock updates of every order never fire it.
create function catalog.add_inserted_search_words() returns trigger language plpgsql as $$
begin
  insert into catalog.search_dictionary (word)
    select distinct w from new_rows, unnest(new_rows.search_words) w where w ~ '[^0-9]'
    on conflict do nothing;
  return null;
end $$;

create function catalog.add_updated_search_words() returns trigger language plpgsql as $$
begin
  insert into catalog.search_dictionary (word)
    select distinct w from unnest(new.search_words) w where w ~ '[^0-9]'
    on conflict do nothing;
  return null;
end $$;

create trigger products_search_words_insert after insert on catalog.products
  referencing new table as new_rows for each statement execute function catalog.add_inserted_search_words();
create trigger products_search_words_update after update of name, description on catalog.products
  for each row execute function catalog.add_updated_search_words();
