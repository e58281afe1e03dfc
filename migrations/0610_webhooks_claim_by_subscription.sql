-- The delivery claim works per subscription (its free slots, then its oldest due deliveries), so
-- it costs what it claims, not the whole backlog and history: the due deliveries of one
-- subscription in order, and its attempts in flight, each from an index of its own.
create index deliveries_due_by_subscription_idx on webhooks.deliveries (subscription_id, next_attempt_at, id) where status in ('pending', 'sending');
create index deliveries_sending_idx on webhooks.deliveries (subscription_id) where status = 'sending';
drop index webhooks.deliveries_due_idx;
