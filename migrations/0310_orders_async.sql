-- Flash-sale mode (ORDERS_MODE=async): an order accepted by Redis (status `pending`, which 0300
-- already allows) is written by the worker later, confirmed or cancelled `out_of_stock` (0301).
-- What is new is the event its confirmation emits.
alter table orders.outbox drop constraint outbox_topic_check;
alter table orders.outbox
  add constraint outbox_topic_check check (topic in ('order.created', 'order.confirmed', 'order.cancelled', 'order.shipped'));
