-- Count one run of an order's co-purchase rows (items or categories, up to 256), once:
-- the run's marker is set with the counts, so a retried pass (the same rows in the same
-- runs) counts nothing again. A batch sends one call per run in its one pipeline.
-- KEYS: 1 the run's marker
-- ARGV: 1 MessagePack of {marker ttl ms, row ttl ms, partners kept, rows}, a row being
--       {partners zset key, {partner, ...}} (partners distinct): packed, as in
--       commit.lua, because encoding thousands of words one by one costs the client more
--       than the script costs Redis (the rows' keys travel inside it too)
-- Returns the rows counted (0: the run was counted before).
local marker_ms, kept_ms, kept, rows = unpack(cmsgpack.unpack(ARGV[1]))

-- Known partners count one more; newcomers fill the free room with 1, then (Space-Saving)
-- each further newcomer replaces one of the least counted partners, inheriting its count + 1.
-- A new row (most rows of one-off items) skips the lookup.
local function count(zset, partners)
  local card = redis.call('ZCARD', zset)
  if card == 0 and #partners <= kept then -- a new row (most rows of one-off items)
    local added = {}
    for i, partner in ipairs(partners) do
      added[2 * i - 1] = 1
      added[2 * i] = partner
    end
    redis.call('ZADD', zset, unpack(added))
    redis.call('PEXPIRE', zset, kept_ms)
    return
  end
  local scores = redis.call('ZMSCORE', zset, unpack(partners))
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
  local room = kept - card
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
  redis.call('PEXPIRE', zset, kept_ms)
end

if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', marker_ms) then
  return 0
end
for _, row in ipairs(rows) do
  count(row[1], row[2])
end
return #rows
