-- Count one order's co-purchases once (by order id). All keys share the {basket} tag.
-- KEYS: 1 counted-orders zset, then one zset per item (k of them), then one per category
-- ARGV: 1 order id, 2 event ms, 3 forget orders below this ms, 4 k, then k item ids,
--       then the category names
-- Returns 1 counted, 0 already counted.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local k = tonumber(ARGV[4])

local function count_pairs(first_key, first_arg, n)
  for a = 0, n - 1 do
    for b = 0, n - 1 do
      if a ~= b then
        redis.call('ZINCRBY', KEYS[first_key + a], 1, ARGV[first_arg + b])
      end
    end
  end
end

count_pairs(2, 5, k)
count_pairs(2 + k, 5 + k, #ARGV - 4 - k)
return 1
