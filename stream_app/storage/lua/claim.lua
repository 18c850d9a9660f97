-- An anonymous profile's side of a merge on a Redis Cluster (storage/stitch.py,
-- docs/identity.md): every key is the anonymous profile's, so this runs in its slot.
-- KEYS: link, profile, id index (seen), order index of anonymous profile A.
-- ARGV[1]: customer C whose events link A ("": only tell A's link); ARGV[2]: the link's
-- TTL (s), or -1: release C's claim (C was found erased: nothing joins them); ARGV[3]: MessagePack [event id hashes, order id hashes] to look up in A's
-- indexes.
-- A link absent and C named: C claims A (the link is set now, so A takes no more
-- anonymous writes: theirs guard "link absent"). Returns {link or false} when A is not
-- C's, else {C, 1 if claimed now else 0, A's profile or false, A's ids (flat hash,
-- ms), A's order ids, the hashes asked found in A's indexes}.
local linked = redis.call('GET', KEYS[1])
if ARGV[2] == '-1' then
  if linked == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return {}
end
local claimed = 0
if not linked and ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  linked, claimed = ARGV[1], 1
end
if linked ~= ARGV[1] or ARGV[1] == '' then return {linked or false} end
local ask = cmsgpack.unpack(ARGV[3])
local found = {}
for first = 1, #ask[1], 1000 do  -- unpack() is bounded: ask in chunks
  local last = math.min(first + 999, #ask[1])
  local scores = redis.call('ZMSCORE', KEYS[3], unpack(ask[1], first, last))
  for j = 1, last - first + 1 do
    if scores[j] then found[#found + 1] = ask[1][first + j - 1] end
  end
end
for first = 1, #ask[2], 1000 do
  local last = math.min(first + 999, #ask[2])
  local member = redis.call('SMISMEMBER', KEYS[4], unpack(ask[2], first, last))
  for j = 1, last - first + 1 do
    if member[j] == 1 then found[#found + 1] = ask[2][first + j - 1] end
  end
end
return {
  linked,
  claimed,
  redis.call('GET', KEYS[2]) or false,
  redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES'),
  redis.call('SMEMBERS', KEYS[4]),
  found,
}
