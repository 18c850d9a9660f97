-- Last-write-wins update of one catalog item, compared with the state it replaced.
-- KEYS: 1 item hash (price, in_stock, category, at, and prev_price / prev_stock: the
--       state the latest update replaced, so a replay of it compares the same way),
--       2 the item's viewers (customer -> last view ms; same {item} slot),
--       3 its wishers (customer -> when wished, ms; same slot)
-- ARGV: 1 event ms, 2 price, 3 in stock '1' / '0', 4 category (each '' = unchanged),
--       5 viewers whose last view is older than this (ms) are forgotten first
-- Returns {status, price, in_stock, category, previous price, previous in_stock, viewers
-- (flat customer, ms), wishers (the same)}, status 'new', or 'same' for a replay of the stored update (same
-- event time); {'old'} when a newer update is already stored.
local item = KEYS[1]
local ms = tonumber(ARGV[1])
local at = tonumber(redis.call('HGET', item, 'at') or '-1')
local function get(field) return redis.call('HGET', item, field) or '' end
if ms < at then
  return {'old'}
end
local status = 'same'
if ms > at then
  status = 'new'
  redis.call('HSET', item, 'prev_price', get('price'), 'prev_stock', get('in_stock'), 'at', ms)
  if ARGV[2] ~= '' then redis.call('HSET', item, 'price', ARGV[2]) end
  if ARGV[3] ~= '' then redis.call('HSET', item, 'in_stock', ARGV[3]) end
  if ARGV[4] ~= '' then redis.call('HSET', item, 'category', ARGV[4]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
return {status, get('price'), get('in_stock'), get('category'), get('prev_price'),
  get('prev_stock'), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'),
  redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')}
