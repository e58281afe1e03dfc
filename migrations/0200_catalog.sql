-- Catalog: categories and products. Stock changes only through the conditional update in
-- catalog/stock.ts (stock >= q), and the check constraint is the last line of defence.
create table catalog.categories (
  id uuid primary key,
  slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);

create table catalog.products (
  id uuid primary key,
  name text not null check (length(name) between 1 and 200),
  description text not null default '',
  price_cents bigint not null check (price_cents >= 0),
  stock integer not null check (stock >= 0),
  category_id uuid references catalog.categories (id) on delete set null,
  archived boolean not null default false,
  -- Moves on every change (price, stock, text): caches and ETags key on it.
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Listing: live products by each ordering, with id as the stable tie-break for keyset pages.
create index products_live_created_idx on catalog.products (created_at, id) where not archived;
create index products_live_price_idx on catalog.products (price_cents, id) where not archived;
create index products_live_name_idx on catalog.products (name, id) where not archived;
create index products_category_idx on catalog.products (category_id) where not archived;
-- Case-insensitive search over name and description.
create index products_search_trgm_idx on catalog.products using gin ((name || ' ' || description) gin_trgm_ops);
