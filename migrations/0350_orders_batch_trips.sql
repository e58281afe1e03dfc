-- The order batch in two round trips (issue 27; src/modules/orders/batch-writer.ts): the writer
-- sends `BEGIN; select orders.batch_begin(…)`, decides in the application, then sends
-- `select orders.batch_finish(…); COMMIT`. The statements are the ones the writer ran one round trip
-- each before, in the same order: lock the products in id order, claim or lock the keys in
-- (customer, key) order, read the orders already under the batch's ids; then write orders, lines,
-- outbox records and key outcomes, and take the stock last, conditionally.

-- Inventory's statements (src/modules/inventory/stock.ts owns every write of `stock`).

-- Locks the rows of `ids` (FOR UPDATE) in id order, the order every stock writer takes locks in.
create or replace function catalog.stock_lock(ids uuid[]) returns jsonb
language sql volatile as $$
  select coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name, 'price_cents', p.price_cents, 'stock', p.stock,
                                               'version', p.version, 'archived', p.archived) order by p.id), '[]'::jsonb)
  from (select id, name, price_cents, stock, version, archived from catalog.products
        where id = any(ids) order by id for update) p
$$;

-- Takes summed units ([{id, quantity}], one per product) from rows locked by stock_lock: one
-- update per product, still conditional (stock >= quantity), so a wrong caller is refused and
-- its transaction rolled back instead of overselling. Returns [{id, stock, version}].
create or replace function catalog.stock_take(lines jsonb) returns jsonb
language plpgsql volatile as $$
declare
  taken jsonb;
  n integer;
begin
  if jsonb_array_length(lines) = 0 then
    return '[]'::jsonb;
  end if;
  with t as (
    update catalog.products p
    set stock = p.stock - x.quantity, version = p.version + 1, updated_at = now()
    from jsonb_to_recordset(lines) as x(id uuid, quantity integer)
    where p.id = x.id and p.stock >= x.quantity
    returning p.id, p.stock, p.version
  )
  select count(*), coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'stock', t.stock, 'version', t.version) order by t.id), '[]'::jsonb)
  into n, taken from t;
  if n <> jsonb_array_length(lines) then
    raise exception 'stock_take: a locked product could not cover its batch; batch rolled back';
  end if;
  return taken;
end
$$;

-- The orders module's statements.

-- input: {product_ids: [uuid], keys: [{customer_id, key, request_hash}], batch_token, lease_seconds,
-- check: [order id]}. Returns {products, keys, orders, lines}.
create or replace function orders.batch_begin(input jsonb) returns jsonb
language plpgsql volatile as $$
#variable_conflict use_column
declare
  locked jsonb;
  claimed jsonb := '[]'::jsonb;
  found jsonb := '[]'::jsonb;
  found_lines jsonb := '[]'::jsonb;
  ids uuid[];
begin
  locked := catalog.stock_lock(array(select jsonb_array_elements_text(input->'product_ids')::uuid));
  if jsonb_array_length(input->'keys') > 0 then
    -- Claims the keys that have no row and locks those that do, in (customer, key) order; a key
    -- another transaction is inserting makes this wait for its commit, then find its row.
    with c as (
      insert into orders.idempotency_keys as k (customer_id, key, request_hash, status, lease_token, expires_at)
      select x.customer_id, x.key, x.request_hash, 'in_progress', (input->>'batch_token')::uuid,
             now() + make_interval(secs => (input->>'lease_seconds')::integer)
      from jsonb_to_recordset(input->'keys') as x(customer_id uuid, key text, request_hash text)
      order by x.customer_id, x.key
      on conflict (customer_id, key) do update set key = k.key
      returning k.customer_id, k.key, k.request_hash, k.status, k.response_status, k.response_body, k.lease_token,
                k.expires_at < now() as lapsed
    )
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) into claimed from c;
  end if;
  if jsonb_array_length(input->'check') > 0 then
    ids := array(select jsonb_array_elements_text(input->'check')::uuid);
    select coalesce(jsonb_agg(to_jsonb(o)), '[]'::jsonb) into found
    from (select id, customer_id, status, total_cents, cancel_reason, created_at from orders.orders where id = any(ids)) o;
    select coalesce(jsonb_agg(to_jsonb(l) order by l.order_id, l.product_id), '[]'::jsonb) into found_lines
    from (select order_id, product_id, name, unit_price_cents, quantity, line_total_cents from orders.order_lines
          where order_id = any(ids)) l;
  end if;
  return jsonb_build_object('products', locked, 'keys', claimed, 'orders', found, 'lines', found_lines);
end
$$;

-- input: {orders, lines, outbox, done, dropped, retention_seconds, take} (record sets as
-- src/modules/orders/repo.ts builds them). Writes the batch, then takes its stock (last: the
-- row locks are the contended resource). Returns the take's [{id, stock, version}].
create or replace function orders.batch_finish(input jsonb) returns jsonb
language plpgsql volatile as $$
#variable_conflict use_column
begin
  insert into orders.orders (id, customer_id, status, total_cents, cancel_reason, created_at)
  select x.id, x.customer_id, x.status, x.total_cents, x.cancel_reason, x.created_at
  from jsonb_to_recordset(input->'orders')
    as x(id uuid, customer_id uuid, status text, total_cents bigint, cancel_reason text, created_at timestamptz);
  insert into orders.order_lines (order_id, product_id, name, unit_price_cents, quantity, line_total_cents)
  select x.order_id, x.product_id, x.name, x.unit_price_cents, x.quantity, x.line_total_cents
  from jsonb_to_recordset(input->'lines')
    as x(order_id uuid, product_id uuid, name text, unit_price_cents bigint, quantity integer, line_total_cents bigint);
  insert into orders.outbox (topic, payload)
  select x.topic, x.payload from jsonb_to_recordset(input->'outbox') as x(topic text, payload jsonb);
  update orders.idempotency_keys k
  set status = 'done', request_hash = x.request_hash, response_status = x.status, response_body = x.body,
      expires_at = now() + make_interval(secs => (input->>'retention_seconds')::integer)
  from jsonb_to_recordset(input->'done') as x(customer_id uuid, key text, request_hash text, status integer, body jsonb)
  where k.customer_id = x.customer_id and k.key = x.key;
  delete from orders.idempotency_keys k
  using jsonb_to_recordset(input->'dropped') as x(customer_id uuid, key text)
  where k.customer_id = x.customer_id and k.key = x.key;
  return catalog.stock_take(coalesce(input->'take', '[]'::jsonb));
end
$$;
