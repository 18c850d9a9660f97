-- Claim scheduled checks that are due, plus claimed ones whose lease ran out.
-- KEYS: 1 due zset, 2 inflight zset (same {sched} slot)
-- ARGV: 1 now_ms, 2 limit, 3 lease_ms
-- Returns {claimed, next}: claimed is a flat list (member, due ms) of checks that now
-- sit in inflight until their lease expires (a lease that ran out reports its expiry as
-- due); next is the earliest due or lease expiry still waiting, or false.
local now, limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local claimed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
if #claimed < 2 * limit then
  local taken = {}
  for i = 1, #claimed, 2 do taken[claimed[i]] = true end
  local due = redis.call(
    'ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit - #claimed / 2)
  for i = 1, #due, 2 do
    if not taken[due[i]] then
      claimed[#claimed + 1] = due[i]
      claimed[#claimed + 1] = due[i + 1]
    end
  end
end
for i = 1, #claimed, 2 do
  redis.call('ZREM', KEYS[1], claimed[i])
  redis.call('ZADD', KEYS[2], now + lease, claimed[i])
end
local next_due = false
for _, key in ipairs(KEYS) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] and (not next_due or tonumber(first[2]) < next_due) then
    next_due = tonumber(first[2])
  end
end
return {claimed, next_due}
