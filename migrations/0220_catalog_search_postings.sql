-- Word search reads postings, not products (catalog/search.ts). A word common to 2–10 % of a
-- million products (a product noun, an origin) has its matches spread over every block of
-- catalog.products: ranking, counting and faceting them through the products' GIN index read the
-- whole 370 MB table (47,000 blocks, most from outside shared_buffers). Postings are the inverted
-- form of the same word arrays: one row per (word, live product) carrying what rank, filters,
-- count and facets need, in a primary key that covers them, so a word's matches are one contiguous
-- index range read index-only (colombia: 83,000 matches in ~800 blocks).
--
-- Kept in step with catalog.products by the triggers below, in the writing transaction: a product
-- inserted, its words, price or category changed, archived, deleted, or its stock crossing zero
-- (the only stock changes that matter to `in_stock`; every other order's update fires nothing).
create table catalog.search_postings (
  word text collate "C" not null,
  product_id uuid not null,
  in_name boolean not null,
  category_id uuid,
  price_cents bigint not null,
  in_stock boolean not null
);

insert into catalog.search_postings (word, product_id, in_name, category_id, price_cents, in_stock)
  select w, p.id, w = any(p.name_words), p.category_id, p.price_cents, p.stock > 0
  from catalog.products p, unnest(p.search_words) w
  where not p.archived;
-- Built after the rows, once (a million products: ~10 million postings).
alter table catalog.search_postings
  add constraint search_postings_pkey primary key (word, product_id) include (in_name, category_id, price_cents, in_stock);

-- Bulk inserts (the seed: 200,000 rows a statement) post once per statement.
create function catalog.post_inserted_products() returns trigger language plpgsql as $$
begin
  insert into catalog.search_postings (word, product_id, in_name, category_id, price_cents, in_stock)
    select w, r.id, w = any(r.name_words), r.category_id, r.price_cents, r.stock > 0
    from new_rows r, unnest(r.search_words) w
    where not r.archived;
  return null;
end $$;

create function catalog.repost_product() returns trigger language plpgsql as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    delete from catalog.search_postings where word = any(old.search_words) and product_id = old.id;
  end if;
  if tg_op = 'UPDATE' and not new.archived then
    insert into catalog.search_postings (word, product_id, in_name, category_id, price_cents, in_stock)
      select w, new.id, w = any(new.name_words), new.category_id, new.price_cents, new.stock > 0
      from unnest(new.search_words) w;
  end if;
  return null;
end $$;

create function catalog.truncate_postings() returns trigger language plpgsql as $$
begin
  truncate catalog.search_postings;
  return null;
end $$;

create trigger products_postings_insert after insert on catalog.products
  referencing new table as new_rows for each statement execute function catalog.post_inserted_products();
create trigger products_postings_update after update on catalog.products for each row
  when (old.search_words is distinct from new.search_words or old.name_words is distinct from new.name_words
        or old.category_id is distinct from new.category_id or old.price_cents <> new.price_cents
        or old.archived <> new.archived or (old.stock > 0) <> (new.stock > 0))
  execute function catalog.repost_product();
create trigger products_postings_delete after delete on catalog.products
  for each row execute function catalog.repost_product();
create trigger products_postings_truncate after truncate on catalog.products
  for each statement execute function catalog.truncate_postings();

-- Nothing matches through the products' word index any more.
drop index if exists catalog.products_search_words_idx;
