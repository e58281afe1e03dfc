-- Flash-sale mode: an accepted order the database refused on every delivery
-- (ORDERS_ASYNC_MAX_DELIVERIES, orders/async-poison.ts) ends cancelled as `unprocessable`.
alter table orders.orders
  drop constraint orders_cancel_reason_check,
  add constraint orders_cancel_reason_check check (cancel_reason in ('customer', 'staff', 'out_of_stock', 'unprocessable'));
