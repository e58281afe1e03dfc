-- The batched ceiling of bench/orders (pgbench -M prepared; run.ts passes -D products=N -D batch=B).
-- B keyed one-unit orders per transaction, each on a random product of 1..products, in the
-- statements the batching writer (src/modules/orders/batch-writer.ts) runs for a batch: lock the
-- batch's product rows in id order; claim its idempotency keys (one statement, key order); write
-- every order, line, outbox record and key outcome in one statement; take the stock with one
-- update per product (conditional, as late as possible); commit. The writer decides in Node
-- between the statements; here the SQL decides nothing (every product has stock enough).
\set seed random(1, 2000000000)
SELECT array_agg(1 + floor(random() * :products)::int) AS picks FROM generate_series(1, :batch) \gset
BEGIN;
SELECT id, name, price_cents, stock, version, archived FROM catalog.products
  WHERE id = any(ARRAY(SELECT DISTINCT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid FROM unnest(:picks::int[]) n))
  ORDER BY id FOR UPDATE;
INSERT INTO orders.idempotency_keys AS k (customer_id, key, request_hash, status, lease_token, expires_at)
  SELECT ('00000000-0000-4000-9000-' || lpad(:client_id::text, 12, '0'))::uuid, :seed::text || '-' || g, md5(g::text), 'in_progress',
         gen_random_uuid(), now() + interval '60 seconds'
  FROM generate_series(1, :batch) g ORDER BY 1, 2
  ON CONFLICT (customer_id, key) DO UPDATE SET key = k.key
  RETURNING k.customer_id, k.key, k.request_hash, k.status, k.response_status, k.response_body, k.lease_token, k.expires_at < now() AS lapsed;
WITH x AS (
  SELECT u.g, ('00000000-0000-4000-8000-' || lpad(u.n::text, 12, '0'))::uuid AS product_id, gen_random_uuid() AS order_id,
         ('00000000-0000-4000-9000-' || lpad(:client_id::text, 12, '0'))::uuid AS customer_id, now() AS created_at
  FROM unnest(:picks::int[]) WITH ORDINALITY AS u(n, g)
), xo AS (
  SELECT x.*, p.name, p.price_cents, (p.price_cents / 100.0)::numeric(12, 2)::text AS price
  FROM x JOIN catalog.products p ON p.id = x.product_id
), o AS (
  INSERT INTO orders.orders (id, customer_id, status, total_cents, cancel_reason, created_at)
  SELECT order_id, customer_id, 'confirmed', price_cents, null, created_at FROM xo
), l AS (
  INSERT INTO orders.order_lines (order_id, product_id, name, unit_price_cents, quantity, line_total_cents)
  SELECT order_id, product_id, name, price_cents, 1, price_cents FROM xo
), b AS (
  INSERT INTO orders.outbox (topic, payload)
  SELECT 'order.created', jsonb_build_object('order_id', order_id, 'customer_id', customer_id, 'total_cents', price_cents,
    'lines', jsonb_build_array(jsonb_build_object('product_id', product_id, 'quantity', 1, 'unit_price_cents', price_cents)))
  FROM xo
), k AS (
  UPDATE orders.idempotency_keys k
  SET status = 'done', response_status = 201, expires_at = now() + interval '24 hours',
      response_body = jsonb_build_object('id', xo.order_id, 'customer', xo.customer_id, 'status', 'confirmed', 'total', xo.price,
        'order_items', jsonb_build_array(jsonb_build_object('product', xo.product_id, 'name', xo.name, 'quantity', 1, 'price', xo.price,
          'line_total', xo.price)), 'created_at', xo.created_at, 'cancel_reason', null)
  FROM xo WHERE k.customer_id = xo.customer_id AND k.key = :seed::text || '-' || xo.g
)
SELECT count(*) FROM xo;
UPDATE catalog.products p SET stock = p.stock - x.q, version = p.version + 1, updated_at = now()
  FROM (SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid AS id, count(*)::int AS q FROM unnest(:picks::int[]) n GROUP BY 1) x
  WHERE p.id = x.id AND p.stock >= x.q
  RETURNING p.id, p.stock, p.version;
END;
