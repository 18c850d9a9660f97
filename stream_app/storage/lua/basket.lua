-- Count one order's co-purchases for ONE item (or category): its keys share its hash tag,
-- so a batch sends one call per item in one pipeline and each call stays in one slot.
-- KEYS: 1 partners zset (partner -> orders with both, large orders sampled), 2 counted-orders
-- ARGV: 1 order key, 2 event ms, 3 ttl ms, 4 partners kept, 5 orders kept (the latest by
--       event ms), then the partners drawn (distinct)
-- Returns 1 counted, 0 already counted.
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
local partners = {unpack(ARGV, 6)}
local scores = redis.call('ZMSCORE', KEYS[1], unpack(partners))
-- Known partners count one more; newcomers fill the free room with 1, then (Space-Saving)
-- each further newcomer replaces one of the least counted partners, inheriting its count + 1.
local known, fresh = {}, {}
for i, partner in ipairs(partners) do
  if scores[i] then
    known[#known + 1] = tonumber(scores[i]) + 1
    known[#known + 1] = partner
  else
    fresh[#fresh + 1] = partner
  end
end
if #known > 0 then
  redis.call('ZADD', KEYS[1], 'XX', unpack(known))
end
local room = tonumber(ARGV[4]) - redis.call('ZCARD', KEYS[1])
local added = {}
for i, partner in ipairs(fresh) do
  if i <= room then
    added[#added + 1] = 1
    added[#added + 1] = partner
  end
end
local over = #fresh - math.max(room, 0)
if over > 0 then
  local least = redis.call('ZRANGE', KEYS[1], 0, over - 1, 'WITHSCORES')
  local gone = {}
  for j = 1, over do
    gone[j] = least[2 * j - 1]
    added[#added + 1] = tonumber(least[2 * j]) + 1
    added[#added + 1] = fresh[#fresh - over + j]
  end
  redis.call('ZREM', KEYS[1], unpack(gone))
end
if #added > 0 then
  redis.call('ZADD', KEYS[1], unpack(added))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
