-- The hourly purge deletes long-expired refresh tokens by expiry.
create index refresh_tokens_expires_idx on identity.refresh_tokens (expires_at);
