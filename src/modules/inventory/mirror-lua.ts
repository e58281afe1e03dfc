/**
 * Inventory's scripts for flash-sale mode (ORDERS_MODE=async), over the stock mirror of
 * holds-lua.ts. Each runs atomically in Redis, so
 * admitting an order (check, take, append to the stream) and settling it (acknowledge, give its
 * units back to the mirror) are each one step that no other request can interleave with: there is
 * no dual write between the stock mirror and the stream.
 *
 * Layout, besides the hold store's keys (holds-lua.ts; every key arrives through KEYS, so the
 * client's key prefix applies). Inventory owns the product hash and the mirrored set; the stream,
 * the record, the key and the customer's zset belong to orders' flash-sale wing, which passes
 * their names in (orders/flash-sale/stream.ts) so one step covers both:
 *   product hash  a = units of accepted orders not yet written. Available to anyone =
 *                 s (the database stock as of version v) − a − units held by others' live holds.
 *                 `s`/`v` keep meaning what they mean for carts, so commits, cancels and staff
 *                 changes go on moving them forward by version; only these scripts touch `a`.
 *   stream        orders:accepted — one entry per accepted order not yet written and acknowledged
 *                 (entries are deleted when acknowledged), field `order` = JSON {id, customer, at,
 *                 lines: [{product, quantity, name, price_cents}]}
 *   record        orders:pending:<id> — the order as a client sees it while pending (GET)
 *   key           orders:idem:<hash of customer and Idempotency-Key> — "<request hash>\n<order id>\n<status>"
 *   set           orders:mirrored — products ever admitted here (what the reconciler repairs)
 *   zset          orders:pending-of:<customer> — the customer's pending orders by acceptance time (history)
 * Invariant kept by the scripts together: a = the units of the entries in the stream, per product.
 */
import { PRELUDE } from './holds-lua.ts';

/**
 * KEYS: the holder hash (a cart's, or a dummy), the n product triples (hash, expiry zset,
 * summary), then the stream, the record, the idempotency key, the mirrored set, the customer's
 * pending zset.
 * ARGV: holder ('' = none), request hash ('' = no key), order id, record JSON, entry JSON,
 * retention seconds, n, the n product ids, the n quantities.
 * Returns {1, entry id} | {2, stored key value} (the key was used before: nothing changed) |
 * {3, ids…} (products without a mirror: nothing changed, the caller takes the sync path) |
 * {0, id, requested, available, …} (a shortage: nothing changed).
 */
export const ADMIT = `${PRELUDE}
local nl = tonumber(ARGV[7])
local stream, record, idem, mirrored = KEYS[3 * nl + 2], KEYS[3 * nl + 3], KEYS[3 * nl + 4], KEYS[3 * nl + 5]
local holder, field = ARGV[1], 'u:' .. ARGV[1]
if ARGV[2] ~= '' then
  local seen = redis.call('GET', idem)
  if seen then return {2, seen} end
end
local missing = {3}
for k = 1, nl do
  if not redis.call('HGET', KEYS[3 * k - 1], 'v') then missing[#missing + 1] = ARGV[7 + k] end
end
if #missing > 1 then return missing end
for k = 1, nl do prune(KEYS[3 * k - 1], KEYS[3 * k], KEYS[3 * k + 1]) end

-- The same rule as a cart's hold (SET_HOLDS): the holder's own units count as available to it.
local short = {0}
for k = 1, nl do
  local p, qty = KEYS[3 * k - 1], tonumber(ARGV[7 + nl + k])
  local own = 0
  if holder ~= '' then own = tonumber(redis.call('HGET', p, field) or '0') end
  local available = tonumber(redis.call('HGET', p, 's') or '0') - tonumber(redis.call('HGET', p, 'a') or '0')
    - (tonumber(redis.call('HGET', p, 't') or '0') - own)
  if available < 0 then available = 0 end
  if qty > available then short[#short + 1] = ARGV[7 + k]; short[#short + 1] = qty; short[#short + 1] = available end
end
if #short > 1 then return short end

for k = 1, nl do
  local p, e, id = KEYS[3 * k - 1], KEYS[3 * k], ARGV[7 + k]
  redis.call('HINCRBY', p, 'a', tonumber(ARGV[7 + nl + k]))
  redis.call('SADD', mirrored, id)
  -- A checkout: the cart's holds on these lines become the order's accepted units.
  if holder ~= '' then
    local own = redis.call('HGET', p, field)
    if own then redis.call('HINCRBY', p, 't', -tonumber(own)); redis.call('HDEL', p, field); redis.call('ZREM', e, holder) end
    redis.call('HDEL', KEYS[1], id)
  end
  -- The catalog's quantity (the summary) leaves the accepted units out at once.
  summarize(p, e, KEYS[3 * k + 1])
end
if holder ~= '' and redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
local ttl = tonumber(ARGV[6])
local entry = redis.call('XADD', stream, '*', 'order', ARGV[5])
redis.call('SET', record, ARGV[4], 'EX', ttl)
redis.call('ZADD', KEYS[3 * nl + 6], now, ARGV[3])
redis.call('EXPIRE', KEYS[3 * nl + 6], ttl)
if ARGV[2] ~= '' then redis.call('SET', idem, ARGV[2] .. '\\n' .. ARGV[3] .. '\\n202', 'EX', ttl) end
return {1, entry}`;

/**
 * After the database commit of some entries (written, or found written by an earlier attempt):
 * each entry still pending in the group is acknowledged, deleted from the stream, its record
 * dropped and its units taken out of `a`, while each product's mirror moves to what the database
 * committed (forward only, by version). One step, so no reader sees the units counted twice or not
 * at all; an entry already acknowledged (by another consumer) changes nothing.
 * KEYS: the stream, the np product triples (hash, expiry zset, summary), the ne records, the ne
 * customers' pending zsets.
 * ARGV: group, np, ne, stock and version per product ('' = leave the mirror), then per entry its
 * id, "<product index>:<units>,…" and its order id.
 */
export const SETTLE = `${PRELUDE}
local group, np, ne = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for k = 1, np do
  local version = ARGV[3 + 2 * k]
  if version ~= '' then advance(KEYS[3 * k - 1], ARGV[2 + 2 * k], version) end
end
local settled = 0
for j = 1, ne do
  local id, spec, order = ARGV[3 + 2 * np + 3 * j - 2], ARGV[3 + 2 * np + 3 * j - 1], ARGV[3 + 2 * np + 3 * j]
  if redis.call('XACK', KEYS[1], group, id) == 1 then
    for k, q in string.gmatch(spec, '(%d+):(%d+)') do redis.call('HINCRBY', KEYS[3 * tonumber(k) - 1], 'a', -tonumber(q)) end
    redis.call('XDEL', KEYS[1], id)
    redis.call('DEL', KEYS[1 + 3 * np + j])
    redis.call('ZREM', KEYS[1 + 3 * np + ne + j], order)
    settled = settled + 1
  end
end
for k = 1, np do summarize(KEYS[3 * k - 1], KEYS[3 * k], KEYS[3 * k + 1]) end
return settled`;

/**
 * The reconciler, and the loading of a missing mirror: sets each product's mirror and facts from
 * the database figures just read (unless the mirror already has a newer version) and recomputes
 * `a` from the entries in the stream, which are exactly the accepted orders not yet written and
 * acknowledged. KEYS: the stream, the np product triples (hash, expiry zset, summary). ARGV: np,
 * then per product id, stock, version, name, price in cents, archived (1/0).
 */
export const RECONCILE = `${PRELUDE}
local np = tonumber(ARGV[1])
local index, inflight = {}, {}
for k = 1, np do index[ARGV[6 * k - 4]] = k; inflight[k] = 0 end
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local fields = e[2]
  for i = 1, #fields, 2 do
    -- A malformed entry (the worker moves it to the dead-letter stream) counts for nothing.
    local ok, o = pcall(cjson.decode, fields[i + 1])
    if fields[i] == 'order' and ok and type(o) == 'table' and type(o.lines) == 'table' then
      for _, l in ipairs(o.lines) do
        local k = type(l) == 'table' and index[l.product]
        if k and type(l.quantity) == 'number' then inflight[k] = inflight[k] + l.quantity end
      end
    end
  end
end
for k = 1, np do
  local p, b = KEYS[3 * k - 1], 1 + 6 * (k - 1)
  local stock, version = ARGV[b + 2], ARGV[b + 3]
  local v = redis.call('HGET', p, 'v')
  if (not v) or tonumber(v) <= tonumber(version) then redis.call('HSET', p, 's', stock, 'v', version, 'at', now) end
  local fv = redis.call('HGET', p, 'fv')
  if (not fv) or tonumber(fv) <= tonumber(version) then
    redis.call('HSET', p, 'n', ARGV[b + 4], 'c', ARGV[b + 5], 'x', ARGV[b + 6], 'fv', version)
  end
  redis.call('HSET', p, 'a', inflight[k])
  summarize(p, KEYS[3 * k], KEYS[3 * k + 1])
end
return np`;

/** Products ever admitted (what the reconciler repairs). */
export const MIRRORED = 'orders:mirrored';
