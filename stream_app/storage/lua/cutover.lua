-- Cut-over: arm the segment check of up to `limit` backfilled customers, one per slot,
-- slots `interval` ms apart from `start` or from where the previous cut-over left off
-- (so concurrent or repeated cut-overs never share a slot), and forget them.
-- KEYS: 1 backfilled zset, 2 due zset, 3 next free slot string (same {sched} slot)
-- ARGV: 1 start ms, 2 interval ms (may be fractional), 3 limit,
--       4 the check member of a customer ('%s' stands for the customer)
-- Returns {armed, first slot ms, last slot ms, customers still waiting} (slots 0 if none).
local start, interval, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local free = tonumber(redis.call('GET', KEYS[3]) or 0)
if free > start then start = free end
local customers = redis.call('ZRANGE', KEYS[1], 0, limit - 1)
if #customers == 0 then return {0, 0, 0, 0} end
local slot = 0
for i, customer in ipairs(customers) do
  slot = math.floor(start + (i - 1) * interval)
  -- LT: a check already due earlier (a live customer's) stays; the slot is a deadline
  redis.call('ZADD', KEYS[2], 'LT', slot, string.format(ARGV[4], customer))
  redis.call('ZREM', KEYS[1], customer)
end
local after = start + #customers * interval
-- kept an hour past its time (clocks of Redis and the command's host may differ)
redis.call('SET', KEYS[3], string.format('%.3f', after), 'PXAT', math.ceil(after) + 3600000)
return {#customers, math.floor(start), slot, redis.call('ZCARD', KEYS[1])}
