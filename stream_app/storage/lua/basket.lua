-- Count one order's co-purchases for ONE item (or category): its keys share its hash tag,
-- so a batch sends one call per item in one pipeline and each call stays in one slot.
-- KEYS: 1 partners zset (partner -> orders with both, large orders sampled), 2 counted-orders
-- ARGV: 1 order key, 2 event ms, 3 ttl ms, 4 partners kept, 5 orders kept (the latest by
--       event ms), then the partners drawn
-- Returns 1 counted, 0 already counted.
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
local kept = tonumber(ARGV[4])
-- Space-Saving: a newcomer to a full set replaces the least counted partner, inheriting its count.
local size = redis.call('ZCARD', KEYS[1])
for i = 6, #ARGV do
  local partner = ARGV[i]
  if size < kept or redis.call('ZSCORE', KEYS[1], partner) then
    if redis.call('ZINCRBY', KEYS[1], 1, partner) == '1' then
      size = size + 1
    end
  else
    local least = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    redis.call('ZREM', KEYS[1], least[1])
    redis.call('ZADD', KEYS[1], tonumber(least[2]) + 1, partner)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
