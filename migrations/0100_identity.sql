-- Identity: accounts and refresh-token families. Usernames and emails are unique whatever their
-- case (the unique indexes are on lower(...)), so "Alice" and "alice" cannot both sign up.
create table identity.users (
  id uuid primary key,
  username text not null check (length(username) between 1 and 150),
  email text not null check (length(email) between 3 and 254),
  password_hash text not null,
  first_name text not null default '' check (length(first_name) <= 150),
  last_name text not null default '' check (length(last_name) <= 150),
  is_staff boolean not null default false,
  is_active boolean not null default true,
  -- Access tokens issued before this instant are refused (deactivation, sign-out everywhere).
  -- The source of truth behind the key-value marker that the per-request check reads.
  tokens_not_before timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create unique index users_username_lower_key on identity.users (lower(username));
create unique index users_email_lower_key on identity.users (lower(email));
-- Staff list customers newest first.
create index users_customers_created_idx on identity.users (created_at desc, id desc) where not is_staff;

-- Refresh tokens are opaque random values; only their SHA-256 is stored. One login starts a
-- family; each refresh marks the presented token used and adds its successor to the family.
-- Presenting a used token again means it was copied: the whole family is revoked.
create table identity.refresh_tokens (
  id uuid primary key,
  family_id uuid not null,
  user_id uuid not null references identity.users (id) on delete cascade,
  token_hash text not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);

create unique index refresh_tokens_hash_key on identity.refresh_tokens (token_hash);
create index refresh_tokens_family_idx on identity.refresh_tokens (family_id);
create index refresh_tokens_user_live_idx on identity.refresh_tokens (user_id) where revoked_at is null;
