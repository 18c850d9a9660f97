-- Convert one id index's event ids from 16 hex digits (before event_key was a decimal) to
-- the signed decimal of the same 8 bytes (storage/migrate.py), atomically, in place: a
-- seen sorted set (scores kept), an orders set (rebuilt, so it becomes an intset) or a
-- device's parked hash (fields renamed, values kept); expiries kept. One key per call.
-- A member of 16 characters of [0-9a-f] is hex when it has a letter; one of 16 digits may
-- also be a decimal: it is taken as hex when the key holds a lettered one, or when ARGV[1]
-- is '1' and every member of the key has the hex shape; otherwise it is left and counted.
-- A decimal already present beside its hex form stays as it is (NX).
-- KEYS: 1 the index
-- ARGV: 1 '1': take 16-digit members as hex (see above); 2 '1': dry run (count only)
-- Returns {members converted (or to convert), 1 if a lettered member was found else 0,
--          16-digit members left undecided, 1 if every member is now of 16 digits else 0
--          (such a key looks undecided to a later look: the caller must not convert it again)}.
local key, assume_hex, dry = KEYS[1], ARGV[1] == '1', ARGV[2] == '1'
local kind = redis.call('TYPE', key)['ok']
local flat, step
if kind == 'zset' then
  flat, step = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES'), 2
elseif kind == 'set' then
  flat, step = redis.call('SMEMBERS', key), 1
elseif kind == 'hash' then
  flat, step = redis.call('HGETALL', key), 2
else
  return {0, 0, 0, 0}
end

-- The signed decimal of 16 hex digits, exact in Lua's doubles: hi * 2^32 + lo is
-- (hi * 42949 + carry) * 10^5 + rest, as 2^32 = 42949 * 10^5 + 67296 (each step < 2^53).
local function decimal(h)
  local hi, lo = tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9), 16)
  local sign = ''
  if hi >= 2147483648 then -- negative: the magnitude is 2^64 - value
    sign, hi, lo = '-', 4294967295 - hi, 4294967296 - lo
    if lo == 4294967296 then hi, lo = hi + 1, 0 end
  end
  local low = hi * 67296 + lo
  local high = hi * 42949 + math.floor(low / 100000)
  low = low % 100000
  if high == 0 then return sign .. string.format('%d', low) end
  return sign .. string.format('%.0f%05d', high, low)
end

local shaped, lettered, others = {}, false, false
for i = 1, #flat, step do
  local m = flat[i]
  if #m == 16 and not string.find(m, '[^0-9a-f]') then
    shaped[#shaped + 1] = i
    lettered = lettered or string.find(m, '[a-f]') ~= nil
  else
    others = true
  end
end
if #shaped == 0 then return {0, 0, 0, 0} end
if not lettered and (others or not assume_hex) then
  return {0, 0, others and 0 or #shaped, 0}
end

-- In chunks (unpack() is bounded); the hex forms go first, so a decimal that happens to
-- spell another member's hex form is not removed with it.
local function chunked(command, args)
  for first = 1, #args, 1000 do
    redis.call(command, key, unpack(args, first, math.min(first + 999, #args)))
  end
end
local old, new, digits = {}, {}, not others
for _, i in ipairs(shaped) do
  local d = decimal(flat[i])
  old[#old + 1] = flat[i]
  if step == 2 then new[#new + 1] = flat[i + 1] end
  new[#new + 1] = d
  digits = digits and #d == 16 and string.byte(d) ~= 45 -- not '-'
end
local answer = {#shaped, lettered and 1 or 0, 0, digits and 1 or 0}
if dry then return answer end
-- Removing every member deletes the key: its expiry is put back at the end.
local ttl = redis.call('PTTL', key)
if kind == 'zset' then
  chunked('ZREM', old)
  for first = 1, #new, 2000 do
    redis.call('ZADD', key, 'NX', unpack(new, first, math.min(first + 1999, #new)))
  end
elseif kind == 'set' then
  -- Rebuilt whole: a set that held a string never becomes an intset again by itself.
  chunked('SREM', old)
  local members = redis.call('SMEMBERS', key)
  for _, m in ipairs(new) do members[#members + 1] = m end
  redis.call('DEL', key)
  chunked('SADD', members)
else
  chunked('HDEL', old)
  for j = 1, #new, 2 do redis.call('HSETNX', key, new[j + 1], new[j]) end
end
if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
return answer
