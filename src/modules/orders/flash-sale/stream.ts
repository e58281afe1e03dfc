/**
 * The keys of flash-sale mode that belong to orders (inventory's admit and settle scripts take
 * their names as arguments, see inventory/mirror-lua.ts for the layout), and the one script over
 * them alone.
 */
/**
 * Removes the group's consumers that hold no pending entries and have been idle longer than
 * ARGV[2] ms (dead workers' names, one per process ever started). One step, so no consumer
 * reads an entry between the check and the removal (DELCONSUMER would drop its pending entries).
 * KEYS: the stream. ARGV: group, idle ms, the caller's own consumer name (kept). Returns the names removed.
 */
export const PRUNE_CONSUMERS = `
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info.name ~= ARGV[3] and tonumber(info.pending) == 0 and tonumber(info.idle) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info.name)
    removed[#removed + 1] = info.name
  end
end
return removed`;

export const STREAM = 'orders:accepted';
export const GROUP = 'order-writers';
export const recordKey = (orderId: string) => `orders:pending:${orderId}`;
export const pendingOfKey = (customerId: string) => `orders:pending-of:${customerId}`;

/** One accepted order as the stream carries it. */
export interface AcceptedEntry {
  id: string;
  customer: string;
  /** Acceptance time, epoch ms. */
  at: number;
  lines: Array<{ product: string; quantity: number; name: string; price_cents: number }>;
}
