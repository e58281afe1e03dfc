/**
 * The Lua scripts of the Redis hold store. Each runs atomically, so checking and holding every line
 * of a request is one step no other request can interleave with.
 *
 * Layout (every key arrives through KEYS, so the client's key prefix applies):
 *   holder hash     productId → units, PEXPIREAT = the holder's expiry (the cart's lines)
 *   product hash    s = mirrored stock, v = its database version, at = when the mirror was last
 *                   confirmed against the database (Redis time, ms), t = units held (pruned
 *                   lazily), u:<holder> = that holder's units, a = units of orders accepted in
 *                   flash-sale mode and not yet written (mirror-lua.ts; absent = 0); n, c, x = the
                   product's name, price in cents and archived flag (1/0) as of its version fv —
                   what an admission needs, written through by every staff change (WRITE_PRODUCTS)
                   so any process can admit while PostgreSQL is down
 *   product zset    holder → expiry (epoch ms): what lets expiry need no job
 *   product summary "<units held>:<earliest expiry>": what a catalog page reads with a plain MGET,
 *                   no script (holds-redis.ts). Its units are t plus a (flash-sale mode's accepted
 *                   units, which never expire: with no live hold its expiry is FAR), so a page's
 *                   quantity leaves out accepted-but-unwritten units at no extra cost. Rewritten by
 *                   every script that changes the product's units (t or a) or moves a holder's expiry earlier. Its expiry may be earlier than the true
 *                   earliest (a holder's expiry moved later leaves it as it was), never later: a
 *                   reader past it asks the pruning script, which rewrites it, and deletes it once
 *                   nothing is held.
 * KEYS[1] is the holder hash; then per product its hash, its zset and its summary (SET_HOLDS with
 * a lifetime: then the holder's start, `hold:s:<holder>`).
 *
 * Time comes from Redis (TIME), one clock for every process. A hold is expired when its expiry is
 * before now, the same rule Redis uses for the holder hash's own expiry.
 */
export const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = math.floor((#KEYS - 1) / 3)
local function summarize(p, e, s, held)
  held = held or tonumber(redis.call('HGET', p, 't') or '0')
  local accepted = tonumber(redis.call('HGET', p, 'a') or '0')
  local first = redis.call('ZRANGE', e, 0, 0, 'WITHSCORES')
  if held <= 0 or #first == 0 then held = 0 end
  if accepted < 0 then accepted = 0 end
  if held + accepted <= 0 then redis.call('DEL', s)
  elseif held > 0 then redis.call('SET', s, (held + accepted) .. ':' .. first[2])
  else redis.call('SET', s, accepted .. ':9007199254740991') end
end
local function prune(p, e, s)
  local gone = redis.call('ZRANGEBYSCORE', e, '-inf', '(' .. now)
  if #gone == 0 then return end
  local freed = 0
  for _, h in ipairs(gone) do
    freed = freed + tonumber(redis.call('HGET', p, 'u:' .. h) or '0')
    redis.call('HDEL', p, 'u:' .. h)
  end
  redis.call('ZREMRANGEBYSCORE', e, '-inf', '(' .. now)
  redis.call('HINCRBY', p, 't', -freed)
  summarize(p, e, s)
end
-- Figures read from (or committed to) the database: the mirror moves only forward, and its time
-- of confirmation (at) is renewed either way, since a version at most the mirror's means the
-- mirror was at least as new as the database a moment ago.
local function advance(p, stock, version)
  local v = redis.call('HGET', p, 'v')
  if (not v) or tonumber(v) < tonumber(version) then redis.call('HSET', p, 's', stock, 'v', version, 'at', now)
  else redis.call('HSET', p, 'at', now) end
end
`;

/**
 * ARGV: holder, ttlMs, cap (-1 = none), nLines, mirrorMaxAgeMs, lifetimeMs (0 = none), then the n
 * product ids (lines first), then quantity, stock, version per line (stock and version '' = use
 * the mirror). With a lifetime, one more key follows the product triples: the holder's start
 * (epoch ms, expiring with its holds). A holder that held nothing starts now; the expiry it gets
 * is never later than its start + lifetimeMs, however often it changes (a cart's maximum life).
 * Returns {1, expiresAt, id, units, …} (the holder's lines after the change) |
 * {0, id, requested, available, …} | {2, cap, total} | {3, ids…} (lines that grow on a mirror that
 * is missing or older than mirrorMaxAgeMs: nothing was changed, the caller reads the database and
 * calls again with figures for them) | {-1, ids the caller did not pass…} (the caller retries with
 * them, so every product the holder holds gets the new expiry).
 */
export const SET_HOLDS = `${PRELUDE}
local hkey, holder, field = KEYS[1], ARGV[1], 'u:' .. ARGV[1]
local ttl, cap, nlines, maxage = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local life = tonumber(ARGV[6])
local passed = {}
for k = 1, n do passed[ARGV[6 + k]] = true end
local current, missing, before = redis.call('HGETALL', hkey), {-1}, 0
local mine = {}
for i = 1, #current, 2 do
  mine[current[i]] = tonumber(current[i + 1])
  before = before + mine[current[i]]
  if not passed[current[i]] then missing[#missing + 1] = current[i] end
end
if #missing > 1 then return missing end

local base, stale = 6 + n, {3}
for k = 1, nlines do
  local p, id = KEYS[3 * k - 1], ARGV[6 + k]
  local qty, version = tonumber(ARGV[base + 3 * k - 2]), ARGV[base + 3 * k]
  if version ~= '' then
    if qty > 0 then advance(p, ARGV[base + 3 * k - 1], version) end
  elseif qty > (mine[id] or 0) then
    local m = redis.call('HMGET', p, 'v', 'at')
    if (not m[1]) or (not m[2]) or now - tonumber(m[2]) > maxage then stale[#stale + 1] = id end
  end
end
if #stale > 1 then return stale end
for k = 1, n do prune(KEYS[3 * k - 1], KEYS[3 * k], KEYS[3 * k + 1]) end

local short, after = {0}, before
for k = 1, nlines do
  local p, id = KEYS[3 * k - 1], ARGV[6 + k]
  local qty = tonumber(ARGV[base + 3 * k - 2])
  local own = tonumber(redis.call('HGET', p, field) or '0')
  -- a = units of orders accepted in flash-sale mode and not yet written (mirror-lua.ts).
  local available = tonumber(redis.call('HGET', p, 's') or '0') - tonumber(redis.call('HGET', p, 'a') or '0')
    - (tonumber(redis.call('HGET', p, 't') or '0') - own)
  if available < 0 then available = 0 end
  -- Shrinking never fails; growing needs the units free of everyone else's live holds.
  if qty > own and qty > available then
    short[#short + 1] = id; short[#short + 1] = qty; short[#short + 1] = available
  end
  after = after - (mine[id] or 0) + qty
end
if #short > 1 then return short end
if cap >= 0 and after > cap and after > before then return {2, cap, after} end

local exp, held = now + ttl, {}
-- The holder's start: kept while it holds anything; one that held nothing (new, lapsed, cleared or
-- spent) starts now. Its holds never outlive start + lifetime.
local since = now
if life > 0 then
  if before > 0 then since = tonumber(redis.call('GET', KEYS[#KEYS]) or now) end
  if since + life < exp then exp = since + life end
end
-- The expiry the holder had: when this change moves it earlier, every summary is rewritten below.
local previous = redis.call('PEXPIRETIME', hkey)
for k = 1, nlines do
  local p, e, id = KEYS[3 * k - 1], KEYS[3 * k], ARGV[6 + k]
  local qty = tonumber(ARGV[base + 3 * k - 2])
  local own = tonumber(redis.call('HGET', p, field) or '0')
  held[k] = redis.call('HINCRBY', p, 't', qty - own)
  if qty == 0 then
    redis.call('HDEL', p, field); redis.call('ZREM', e, holder); redis.call('HDEL', hkey, id)
  else
    redis.call('HSET', p, field, qty); redis.call('HSET', hkey, id, qty)
  end
end
for k = 1, n do
  if redis.call('HEXISTS', hkey, ARGV[6 + k]) == 1 then redis.call('ZADD', KEYS[3 * k], exp, holder) end
end
-- The lines' units changed. The holder's other products only had its expiry moved, which leaves
-- their summaries valid (see the layout) unless it moved earlier.
local upto = (previous > 0 and exp < previous) and n or nlines
for k = 1, upto do summarize(KEYS[3 * k - 1], KEYS[3 * k], KEYS[3 * k + 1], held[k]) end
if redis.call('EXISTS', hkey) == 1 then
  redis.call('PEXPIREAT', hkey, exp)
  if life > 0 then redis.call('SET', KEYS[#KEYS], since, 'PXAT', exp) end
elseif life > 0 then redis.call('DEL', KEYS[#KEYS]) end
local out = {1, exp}
for _, v in ipairs(redis.call('HGETALL', hkey)) do out[#out + 1] = v end
return out`;

/**
 * Release (and commit). ARGV: holder, 'all' | 'some' | 'spend', the n product ids, then stock and
 * version per product ('' = leave the mirror), then ('spend' only) the units spent per product.
 * 'all' checks that every held product was passed ({-1, …} as above) and drops the holder hash.
 * 'spend' (a checkout's commit) takes off each line only the units the order took, in the same
 * step: a line added, or units added to a line, since the checkout read the cart stay held.
 */
export const RELEASE = `${PRELUDE}
local hkey, holder, field, all = KEYS[1], ARGV[1], 'u:' .. ARGV[1], ARGV[2] == 'all'
local spend = ARGV[2] == 'spend'
if all then
  local passed, missing = {}, {-1}
  for k = 1, n do passed[ARGV[2 + k]] = true end
  for _, id in ipairs(redis.call('HKEYS', hkey)) do
    if not passed[id] then missing[#missing + 1] = id end
  end
  if #missing > 1 then return missing end
end
for k = 1, n do
  local p, e, id = KEYS[3 * k - 1], KEYS[3 * k], ARGV[2 + k]
  local version = ARGV[2 + n + 2 * k]
  if version ~= '' then advance(p, ARGV[2 + n + 2 * k - 1], version) end
  local own = redis.call('HGET', p, field)
  local left = 0
  if own and spend then left = tonumber(own) - tonumber(ARGV[2 + 3 * n + k]) end
  if left > 0 then
    redis.call('HINCRBY', p, 't', left - tonumber(own)); redis.call('HSET', p, field, left); redis.call('HSET', hkey, id, left)
  else
    if own then redis.call('HINCRBY', p, 't', -tonumber(own)); redis.call('HDEL', p, field) end
    redis.call('ZREM', e, holder)
    redis.call('HDEL', hkey, id)
  end
  if own then summarize(p, e, KEYS[3 * k + 1]) end
end
if all then redis.call('DEL', hkey) end
return {1}`;

/**
 * Commit of many holders at once (the orders of one batch): their holds are spent and each
 * product's mirror moves to what the batch committed, in one atomic step, so no other request
 * sees the batch's final stock while some of its orders still hold their units (which would count
 * them twice). KEYS: a dummy holder key, the product triples, then the holder hashes. ARGV: number
 * of products, number of holders, the product ids, stock and version per product ('' = leave the
 * mirror), the holder names. A holder's products must all be among the products passed (a one-off
 * order holder holds exactly its order's lines).
 */
export const COMMIT_MANY = `${PRELUDE}
local np, nh = tonumber(ARGV[1]), tonumber(ARGV[2])
local index, touched = {}, {}
for k = 1, np do
  index[ARGV[2 + k]] = k
  local version = ARGV[2 + np + 2 * k]
  if version ~= '' then advance(KEYS[3 * k - 1], ARGV[2 + np + 2 * k - 1], version) end
end
for j = 1, nh do
  local holder, hkey = ARGV[2 + 3 * np + j], KEYS[1 + 3 * np + j]
  local field = 'u:' .. holder
  for _, id in ipairs(redis.call('HKEYS', hkey)) do
    local k = index[id]
    if k then
      local p = KEYS[3 * k - 1]
      local own = redis.call('HGET', p, field)
      if own then redis.call('HINCRBY', p, 't', -tonumber(own)); redis.call('HDEL', p, field) end
      redis.call('ZREM', KEYS[3 * k], holder)
      touched[k] = true
    end
  end
  redis.call('DEL', hkey)
end
for k in pairs(touched) do summarize(KEYS[3 * k - 1], KEYS[3 * k], KEYS[3 * k + 1]) end
return {1}`;

/**
 * KEYS: a dummy holder key, then the product triples; ARGV[1]: holder to leave out ('' = none).
 * Prunes what expired, which also renews the summaries that had gone stale. Returns per product
 * its units held by others plus its accepted-but-unwritten units (flash-sale mode's `a`).
 */
export const HELD_UNITS = `${PRELUDE}
local out, field = {}, 'u:' .. ARGV[1]
for k = 1, n do
  local p = KEYS[3 * k - 1]
  prune(p, KEYS[3 * k], KEYS[3 * k + 1])
  local held = tonumber(redis.call('HGET', p, 't') or '0')
  if ARGV[1] ~= '' then held = held - tonumber(redis.call('HGET', p, field) or '0') end
  -- As in the summaries: flash-sale mode's accepted-but-unwritten units are not available either.
  out[#out + 1] = held + math.max(0, tonumber(redis.call('HGET', p, 'a') or '0'))
end
return out`;

/**
 * Write-through after a committed product change (created, stock set or adjusted, renamed,
 * repriced, archived): each product's mirror moves to the committed stock and its facts to the
 * committed name, price and archived flag — both forward only, by version, so a late writer never
 * puts an older state back. KEYS: a dummy holder key, then the product triples. ARGV per product:
 * stock, version, name, price in cents, archived (1/0).
 */
export const WRITE_PRODUCTS = `${PRELUDE}
for k = 1, n do
  local p, b = KEYS[3 * k - 1], 5 * (k - 1)
  local version = ARGV[b + 2]
  advance(p, ARGV[b + 1], version)
  local fv = redis.call('HGET', p, 'fv')
  if (not fv) or tonumber(fv) < tonumber(version) then
    redis.call('HSET', p, 'n', ARGV[b + 3], 'c', ARGV[b + 4], 'x', ARGV[b + 5], 'fv', version)
  end
end
return {1}`;

/** KEYS[1]: the holder hash. Returns {expiresAt or -1, id, units, …}. */
export const HOLDS_OF = `
local out = {redis.call('PEXPIRETIME', KEYS[1])}
local lines = redis.call('HGETALL', KEYS[1])
for i = 1, #lines do out[#out + 1] = lines[i] end
return out`;
