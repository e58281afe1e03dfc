-- Identity self-service: closed accounts, sign-out everywhere except the caller's session,
-- password-reset tokens and the mail outbox.

-- A closed account (DELETE me/) keeps its row, anonymised, so orders that name its id still
-- resolve to "a closed customer"; closed_at says when. Closing is final.
alter table identity.users add column closed_at timestamptz;
-- The one session exempt from tokens_not_before (a password change keeps the caller signed in).
alter table identity.users add column tokens_not_before_session uuid;

-- Reset tokens are 32 random bytes; only their SHA-256 is stored. One live token per user: a
-- newer request deletes the older (the unique index makes that a rule, not a habit).
create table identity.password_resets (
  id uuid primary key,
  user_id uuid not null references identity.users (id) on delete cascade,
  token_hash text not null,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create unique index password_resets_hash_key on identity.password_resets (token_hash);
create unique index password_resets_user_key on identity.password_resets (user_id);

-- Mails waiting for the worker, written in the transaction that made them necessary, so a mail
-- is neither lost when SMTP is down nor sent for a change that rolled back. A row is deleted once
-- delivered (or once pointless: past expires_at), so addresses and links do not pile up here.
create table identity.mail_outbox (
  id uuid primary key,
  user_id uuid references identity.users (id) on delete cascade,
  to_address text not null,
  subject text not null,
  text_body text not null,
  html_body text,
  attempts integer not null default 0,
  -- Also the lease: a worker that takes a row moves this forward before sending.
  next_attempt_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_error text,
  created_at timestamptz not null default now()
);
create index mail_outbox_due_idx on identity.mail_outbox (next_attempt_at);
create index mail_outbox_user_idx on identity.mail_outbox (user_id);
