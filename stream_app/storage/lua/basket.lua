-- Count one order's co-purchases for a run of its items (or categories), each row in its
-- own keys (its hash tag); a batch sends one call per run of rows in one pipeline.
-- KEYS: per row, 1 partners zset (partner -> orders with both, large orders sampled),
--   2 counted-orders
-- ARGV: 1 order key, 2 event ms, 3 ttl ms, 4 partners kept, 5 orders kept (the latest by
--       event ms), then per row: the number of partners drawn, the partners (distinct)
-- Returns the rows counted (a row already counted for this order is left as it is).
local function count(zset, counted, partners)
  if redis.call('ZSCORE', counted, ARGV[1]) then
    return 0
  end
  redis.call('ZADD', counted, ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYRANK', counted, 0, -1 - tonumber(ARGV[5]))
  local scores = redis.call('ZMSCORE', zset, unpack(partners))
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
    redis.call('ZADD', zset, 'XX', unpack(known))
  end
  local room = tonumber(ARGV[4]) - redis.call('ZCARD', zset)
  local added = {}
  for i, partner in ipairs(fresh) do
    if i <= room then
      added[#added + 1] = 1
      added[#added + 1] = partner
    end
  end
  local over = #fresh - math.max(room, 0)
  if over > 0 then
    local least = redis.call('ZRANGE', zset, 0, over - 1, 'WITHSCORES')
    local gone = {}
    for j = 1, over do
      gone[j] = least[2 * j - 1]
      added[#added + 1] = tonumber(least[2 * j]) + 1
      added[#added + 1] = fresh[#fresh - over + j]
    end
    redis.call('ZREM', zset, unpack(gone))
  end
  if #added > 0 then
    redis.call('ZADD', zset, unpack(added))
  end
  redis.call('PEXPIRE', zset, ARGV[3])
  redis.call('PEXPIRE', counted, ARGV[3])
  return 1
end

local at, counted = 6, 0
for row = 1, #KEYS, 2 do
  local n = tonumber(ARGV[at])
  counted = counted + count(KEYS[row], KEYS[row + 1], {unpack(ARGV, at + 1, at + n)})
  at = at + n + 1
end
return counted
