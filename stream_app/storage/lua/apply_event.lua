-- Apply a customer's events of one batch to their profile (docs/profile.md), each at most once.
-- KEYS (all share the {customer} hash tag):
--   1 profile hash, 2 tastes hash, 3 rhythm hash, 4 cart hash,
--   5 recently viewed zset, 6 recent searches zset, 7 seen-ids zset,
--   8 erased flag (set when the customer was forgotten: their events are dropped)
-- ARGV: 1 now ms, 2 allowed lateness ms, 3 ttl s, 4 taste half-life ms,
--       5 rhythm half-life ms, 6 views cap, 7 searches cap,
--       then per event, in order: event id hash, event ms, ops (JSON array)
-- Returns per event: 0 duplicate, 1 applied, 2 applied + profile created,
-- 3 too late (nothing changed), 4 dropped: the customer was erased.
local profile, seen = KEYS[1], KEYS[7]
local lateness = tonumber(ARGV[2])
local decay = {t = {KEYS[2], tonumber(ARGV[4])}, r = {KEYS[3], tonumber(ARGV[5])}}
local recent = {v = {KEYS[5], tonumber(ARGV[6])}, s = {KEYS[6], tonumber(ARGV[7])}}
local cart = KEYS[4]
local touched = {}

local function ms(value)
  return string.format('%d', value)
end

-- Sums are kept to 10 significant digits (HINCRBYFLOAT would write 17): a relative
-- error of 5e-11 per addition buys a third less memory per field.
local function add_float(key, field, amount)
  local sum = (tonumber(redis.call('HGET', key, field)) or 0) + amount
  redis.call('HSET', key, field, string.format('%.10g', sum))
end

-- Decayed sum stored relative to the hash's _ref: stored = sum(w * 2^((t - ref) / H)).
local function decay_add(key, half_life, field, weight, t)
  local ref = tonumber(redis.call('HGET', key, '_ref'))
  if not ref then
    ref = t
    redis.call('HSET', key, '_ref', ms(t))
  end
  local x = (t - ref) / half_life
  if x > 512 then  -- rebase before 2^x overflows: rescale every sum to the new reference
    local scale = 2 ^ (-x)
    local fields = redis.call('HGETALL', key)
    for i = 1, #fields, 2 do
      if fields[i] ~= '_ref' then
        redis.call('HSET', key, fields[i], string.format('%.10g', tonumber(fields[i + 1]) * scale))
      end
    end
    redis.call('HSET', key, '_ref', ms(t))
    x = 0
  end
  add_float(key, field, weight * 2 ^ x)
end

-- A cart line is a JSON array [added ms, category, price, quantity, event id, removed ms]
-- (0 = never added / never removed): short enough for Redis' compact hash encoding.
local function cart_line(item)
  local raw = redis.call('HGET', cart, item)
  if raw then return cjson.decode(raw) end
  return {0, '', 0, 0, '', 0}
end

local function apply(id_hash, event_ms, ops)
  if redis.call('ZSCORE', seen, id_hash) then
    return 0
  end
  local watermark = tonumber(redis.call('HGET', profile, 'last_seen'))
  if watermark and event_ms < watermark - lateness then
    return 3
  end
  redis.call('ZADD', seen, event_ms, id_hash)
  -- Ids below the new acceptance bound can never be needed again: such events are too late.
  local newest = math.max(watermark or event_ms, event_ms)
  redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. ms(newest - lateness))
  local created = redis.call('HSETNX', profile, 'created_ms', ARGV[1])
  touched[profile], touched[seen] = true, true
  for _, op in ipairs(cjson.decode(ops)) do
    local kind = op[1]
    if kind == 'i' then
      redis.call('HINCRBY', profile, op[2], op[3])
    elseif kind == 'f' then
      add_float(profile, op[2], op[3])
    elseif kind == 'max' or kind == 'min' then
      local cur = tonumber(redis.call('HGET', profile, op[2]))
      if (not cur) or (kind == 'max' and op[3] > cur) or (kind == 'min' and op[3] < cur) then
        redis.call('HSET', profile, op[2], ms(op[3]))
      end
    elseif kind == 'lww' then
      local stamp = '@' .. op[2]
      local at = tonumber(redis.call('HGET', profile, stamp))
      if (not at) or op[4] >= at then
        redis.call('HSET', profile, op[2], op[3], stamp, ms(op[4]))
      end
    elseif kind == 'd' then
      local target = decay[op[2]]
      decay_add(target[1], target[2], op[3], op[4], op[5])
      touched[target[1]] = true
    elseif kind == 'top' then
      local target = recent[op[2]]
      redis.call('ZADD', target[1], 'GT', op[4], op[3])
      local extra = redis.call('ZCARD', target[1]) - target[2]
      if extra > 0 then
        redis.call('ZREMRANGEBYRANK', target[1], 0, extra - 1)
      end
      touched[target[1]] = true
    elseif kind == 'ca' then  -- item, ms, category, price, quantity, event id
      local line = cart_line(op[2])
      if op[3] > line[1] then
        line[1], line[2], line[3], line[4], line[5] = op[3], op[4], op[5], op[6], op[7]
        redis.call('HSET', cart, op[2], cjson.encode(line))
      end
      touched[cart] = true
    elseif kind == 'cr' then  -- item, ms: a tombstone that hides adds up to ms
      local line = cart_line(op[2])
      if op[3] > line[6] then
        line[6] = op[3]
        redis.call('HSET', cart, op[2], cjson.encode(line))
      end
      touched[cart] = true
    elseif kind == 'cc' then  -- ms: an order hides everything up to ms; drop what it covers
      local lines = redis.call('HGETALL', cart)
      for i = 1, #lines, 2 do
        local line = cjson.decode(lines[i + 1])
        if math.max(line[1], line[6]) <= op[2] then
          redis.call('HDEL', cart, lines[i])
        end
      end
    else
      error('unknown op ' .. tostring(kind))
    end
  end
  return created + 1
end

local outcomes = {}
local erased = redis.call('EXISTS', KEYS[8]) == 1
for i = 8, #ARGV, 3 do
  if erased then
    outcomes[#outcomes + 1] = 4
  else
    outcomes[#outcomes + 1] = apply(ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2])
  end
end
local ttl = tonumber(ARGV[3])
for key in pairs(touched) do
  redis.call('EXPIRE', key, ttl)
end
return outcomes
