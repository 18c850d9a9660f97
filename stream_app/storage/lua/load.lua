-- Read what one pass needs of its customers, in one call (storage/customers.py).
-- ARGV[1]: MessagePack [templates, since, devices, customers]:
--   templates: key templates (string.format with the customer id) of the profile, id
--     index, erased flag, memberships, conversion windows, pending decisions, sent
--     decisions, contact history, scored features (customer id, decision id), of a
--     device's owner (device token), of the order id index, and of a device's parked
--     readings (device token);
--   since: contact history starts at this ms;
--   devices: [token, [event id hashes]] of device-only readings;
--   customers: [id, [event id hashes], [decision ids whose scored features are taken
--     (GETDEL: each decision is labelled once)], [those of the hashes that are orders'],
--     [tokens of the devices the batch links to the customer]].
-- A device's events belong to its owner, who is read too when not named. The readings
-- parked for a device the batch links are read, and their ids looked up like the batch's.
-- Returns {owners, rows, parked}: owners[i] = customer id of device i or false;
-- parked[i] = {readings parked for device i, its hashes already parked (1/0 each)}
-- (unlinked devices only, else false); one row per customer {id, profile or false,
-- erased 0/1, event id hashes already applied (in the id index, or for orders in the
-- order index), memberships or false, windows (flat hash), pending (values), sent
-- (decision ids), contacts (flat member, score), scored (aligned with the decision ids,
-- blob or false), readings parked for the devices linked (flat token, hash, reading)}.
local ask = cmsgpack.unpack(ARGV[1])
local T, since, devices, customers = ask[1], ask[2], ask[3], ask[4]
local order, wanted, takes, orders, waiting = {}, {}, {}, {}, {}

local function want(cid)
  if not wanted[cid] then
    order[#order + 1] = cid
    wanted[cid], takes[cid], orders[cid], waiting[cid] = {}, {}, {}, {}
  end
end

local owners, parked = {}, {}
for d, device in ipairs(devices) do
  local owner = redis.call('GET', string.format(T[10], device[1]))
  owners[d] = owner
  parked[d] = false
  if owner then
    want(owner)
    for _, id in ipairs(device[2]) do table.insert(wanted[owner], id) end
  else
    local key = string.format(T[12], device[1])
    local flags = {}
    for j, id in ipairs(device[2]) do flags[j] = redis.call('HEXISTS', key, id) end
    parked[d] = {redis.call('HLEN', key), flags}
  end
end
for _, customer in ipairs(customers) do
  local cid = customer[1]
  want(cid)
  for _, id in ipairs(customer[2]) do table.insert(wanted[cid], id) end
  for _, did in ipairs(customer[3]) do table.insert(takes[cid], did) end
  for _, id in ipairs(customer[4]) do table.insert(orders[cid], id) end
  for _, token in ipairs(customer[5]) do
    local flat = redis.call('HGETALL', string.format(T[12], token))
    for j = 1, #flat, 2 do
      table.insert(wanted[cid], flat[j])
      local w = waiting[cid]
      w[#w + 1], w[#w + 2], w[#w + 3] = token, flat[j], flat[j + 1]
    end
  end
end

local rows = {}
for _, cid in ipairs(order) do
  local function key(t) return string.format(T[t], cid) end
  local found = {}
  local ids = wanted[cid]
  for first = 1, #ids, 1000 do  -- unpack() is bounded: ask in chunks
    local last = math.min(first + 999, #ids)
    local scores = redis.call('ZMSCORE', key(2), unpack(ids, first, last))
    for j = 1, last - first + 1 do
      if scores[j] then found[#found + 1] = ids[first + j - 1] end
    end
  end
  ids = orders[cid]
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    local kept = redis.call('SMISMEMBER', key(11), unpack(ids, first, last))
    for j = 1, last - first + 1 do
      if kept[j] == 1 then found[#found + 1] = ids[first + j - 1] end
    end
  end
  local scored = {}
  for j, did in ipairs(takes[cid]) do
    scored[j] = redis.call('GETDEL', string.format(T[9], cid, did))
  end
  rows[#rows + 1] = {
    cid,
    redis.call('GET', key(1)),
    redis.call('EXISTS', key(3)),
    found,
    redis.call('GET', key(4)),
    redis.call('HGETALL', key(5)),
    redis.call('HVALS', key(6)),
    redis.call('HKEYS', key(7)),
    redis.call('ZRANGEBYSCORE', key(8), since, '+inf', 'WITHSCORES'),
    scored,
    waiting[cid],
  }
end
return {owners, rows, parked}
