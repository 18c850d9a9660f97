-- Claim scheduled checks that are due, plus claimed ones whose lease ran out.
-- KEYS: 1 due zset, 2 inflight zset (same {sched} slot)
-- ARGV: 1 now_ms, 2 limit, 3 lease_ms
-- Returns the claimed members; each now sits in inflight until its lease expires.
local now, limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local claimed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
if #claimed < limit then
  local taken = {}
  for _, member in ipairs(claimed) do taken[member] = true end
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit - #claimed)
  for _, member in ipairs(due) do
    if not taken[member] then table.insert(claimed, member) end
  end
end
for _, member in ipairs(claimed) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], now + lease, member)
end
return claimed
