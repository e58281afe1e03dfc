-- The staff order list (GET /api/orders/orders/ for staff: every customer's orders, newest
-- first, optionally of one status) and the dashboard's per-hour counts of one day read these
-- instead of sorting the whole table. A customer's own history keeps orders_customer_created_idx.
create index orders_created_idx on orders.orders (created_at desc, id desc);
create index orders_status_created_idx on orders.orders (status, created_at desc, id desc);
