-- Apply one event to one customer's profile, at most once per event id.
-- KEYS: 1 profile hash, 2 seen zset, 3 cart hash (all share the {customer} hash tag)
-- ARGV: 1 event_id, 2 now_ms, 3 dedupe_window_ms, 4 profile_ttl_s, 5 ops (JSON array)
-- Returns 0 = duplicate (nothing changed), 1 = applied, 2 = applied and profile created.
local profile, seen, cart = KEYS[1], KEYS[2], KEYS[3]
if redis.call('ZSCORE', seen, ARGV[1]) then
  return 0
end
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
redis.call('ZADD', seen, now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', seen, '-inf', now - window)
local created = redis.call('HSETNX', profile, 'created_ms', now)

local function line_ms(raw)
  if not raw then return nil end
  return cjson.decode(raw)['t']
end

for _, op in ipairs(cjson.decode(ARGV[5])) do
  local kind = op[1]
  if kind == 'i' then
    redis.call('HINCRBY', profile, op[2], op[3])
  elseif kind == 'f' then
    redis.call('HINCRBYFLOAT', profile, op[2], op[3])
  elseif kind == 'max' or kind == 'min' then
    local cur = tonumber(redis.call('HGET', profile, op[2]))
    if (not cur) or (kind == 'max' and op[3] > cur) or (kind == 'min' and op[3] < cur) then
      redis.call('HSET', profile, op[2], string.format('%d', op[3]))
    end
  elseif kind == 'lww' then
    local stamp = '@' .. op[2]
    local at = tonumber(redis.call('HGET', profile, stamp))
    if (not at) or op[4] >= at then
      redis.call('HSET', profile, op[2], op[3], stamp, string.format('%d', op[4]))
    end
  elseif kind == 'ca' then
    local old = line_ms(redis.call('HGET', cart, op[2]))
    if (not old) or op[3] >= old then
      redis.call('HSET', cart, op[2], op[4])
    end
  elseif kind == 'cr' then
    local old = line_ms(redis.call('HGET', cart, op[2]))
    if old and old <= op[3] then
      redis.call('HDEL', cart, op[2])
    end
  elseif kind == 'cc' then
    local lines = redis.call('HGETALL', cart)
    for i = 1, #lines, 2 do
      if line_ms(lines[i + 1]) <= op[2] then
        redis.call('HDEL', cart, lines[i])
      end
    end
  else
    return redis.error_reply('unknown op ' .. tostring(kind))
  end
end

redis.call('EXPIRE', profile, ttl)
redis.call('EXPIRE', seen, math.ceil(window / 1000))
if redis.call('EXISTS', cart) == 1 then
  redis.call('EXPIRE', cart, ttl)
end
return created + 1
