-- Why an order was cancelled (API.md, Orders): by the customer, by staff, or because the database
-- could not fill an order accepted in flash-sale mode. Null unless the order is cancelled.
alter table orders.orders
  add column cancel_reason text check (cancel_reason in ('customer', 'staff', 'out_of_stock')),
  add constraint orders_cancel_reason_status check ((status = 'cancelled') = (cancel_reason is not null));
