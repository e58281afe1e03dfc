-- The mail outbox is sent oldest first (identity/repo.ts, claimDueMail: an account's mails in the
-- order they were queued): this index lets a claim read its batch of the oldest due mails instead of
-- sorting every due one, however long the backlog.
create index mail_outbox_created_idx on identity.mail_outbox (created_at, id);
