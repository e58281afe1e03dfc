-- The per-order ceiling of bench/orders (pgbench -M prepared; run.ts passes -D products=N).
-- One keyed order of one unit per transaction, in the fewest statements the one-transaction-per-
-- order design needs: the conditional stock update (invariant 1) returning the name and price,
-- then the order, its line, its outbox record and its idempotency record (written `done` with the
-- response body at once: claim and completion in one row, one commit) in one statement.
-- Products are ids 00000000-0000-4000-8000-<n, 12 digits>, n in 1..products (seeded by run.ts);
-- the customer is one per pgbench client.
\set n random(1, :products)
BEGIN;
UPDATE catalog.products SET stock = stock - 1, version = version + 1, updated_at = now()
  WHERE id = ('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid AND stock >= 1 AND NOT archived
  RETURNING id AS product_id, name, price_cents, stock, version \gset
WITH o AS (
  INSERT INTO orders.orders (id, customer_id, status, total_cents)
  VALUES (gen_random_uuid(), ('00000000-0000-4000-9000-' || lpad(:client_id::text, 12, '0'))::uuid, 'confirmed', :price_cents::bigint)
  RETURNING id, customer_id, created_at
), body AS (
  SELECT o.*, jsonb_build_object(
    'id', o.id, 'customer', o.customer_id, 'status', 'confirmed', 'total', (:price_cents::bigint / 100.0)::numeric(12, 2)::text,
    'order_items', jsonb_build_array(jsonb_build_object('product', :product_id::uuid, 'name', :name::text, 'quantity', 1,
      'price', (:price_cents::bigint / 100.0)::numeric(12, 2)::text, 'line_total', (:price_cents::bigint / 100.0)::numeric(12, 2)::text)),
    'created_at', o.created_at, 'cancel_reason', null) AS response
  FROM o
), l AS (
  INSERT INTO orders.order_lines (order_id, product_id, name, unit_price_cents, quantity, line_total_cents)
  SELECT id, :product_id::uuid, :name::text, :price_cents::bigint, 1, :price_cents::bigint FROM o
), b AS (
  INSERT INTO orders.outbox (topic, payload)
  SELECT 'order.created', jsonb_build_object('order_id', id, 'customer_id', customer_id, 'total_cents', :price_cents::bigint,
    'lines', jsonb_build_array(jsonb_build_object('product_id', :product_id::uuid, 'quantity', 1, 'unit_price_cents', :price_cents::bigint)))
  FROM o
), k AS (
  INSERT INTO orders.idempotency_keys (customer_id, key, request_hash, status, lease_token, response_status, response_body, expires_at)
  SELECT customer_id, id::text, md5(id::text) || md5(:product_id::text), 'done', gen_random_uuid(), 201, response, now() + interval '24 hours'
  FROM body
)
SELECT id FROM o;
END;
