-- A one-word search's relevance page walks its rank classes in product order (catalog/rank-walk.ts):
-- exact in the name, then exact in the description, then prefix, then typo — each class of a
-- candidate word one range of this index, (word, in_name) fixed and product_id in order, read
-- index-only for the filters it carries. The primary key (word, product_id) cannot serve it: a
-- word found only in descriptions (an origin such as `colombia`, 83,333 products at 1M) would be
-- read whole to find that no product has it in its name.
--
-- Cost: a second key of the same width as the primary key (~710 MB at 1M products, 9.5 million
-- postings) and one more index entry written per posting (ten per product insert; a repost
-- rewrites them). Stock updates that do not cross zero still fire nothing.
create index search_postings_walk_idx on catalog.search_postings (word, in_name, product_id)
  include (category_id, price_cents, in_stock);
