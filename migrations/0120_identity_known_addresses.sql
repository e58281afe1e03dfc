-- Client addresses that signed in to an account successfully: the per-user login block does not
-- hold them back, so strangers guessing a password cannot keep the owner out (throttle.ts).
-- Only an HMAC of (user id, address) is stored, keyed with the server's secret: a plain hash of an
-- IPv4 address is undone by trying all 2^32. At most a few rows per user (known-addresses.ts).
create table identity.known_addresses (
  user_id uuid not null references identity.users (id) on delete cascade,
  address_hash text not null,
  last_seen_at timestamptz not null default now(),
  primary key (user_id, address_hash)
);
