-- A campaign's lift counts, recounted from its per-decision record (storage/decisions.py):
-- when they lack the built mark (data older than the counts, or a campaign new since), or
-- when forced (`stream-app report lift --rebuild`); else they are only read. Atomic, so
-- the writers' increments before it are recounted from the very record they came with.
-- KEYS: 1 lift hash (decision id -> <arm>|<stratum>|<0 or 1>), 2 its counts (same slot)
-- ARGV: 1 the built mark's field, 2 '1' to recount even if built
-- Returns the counts hash, flat: field, count, ... (fields as lift_fields.lift_cell builds them).
if ARGV[2] ~= '1' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return redis.call('HGETALL', KEYS[2])
end
local counts = {}
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  local cell = string.sub(value, 1, -3)
  counts['n|' .. cell] = (counts['n|' .. cell] or 0) + 1
  if string.sub(value, -1) == '1' then
    counts['c|' .. cell] = (counts['c|' .. cell] or 0) + 1
  end
end
local flat = {ARGV[1], '1'}
for field, count in pairs(counts) do
  flat[#flat + 1] = field
  flat[#flat + 1] = tostring(count)
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(flat))
return flat
