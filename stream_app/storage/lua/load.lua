-- Read what one pass needs of its customers, in one call (storage/customers.py).
-- ARGV[1]: MessagePack [templates, since, devices, customers]:
--   templates: key templates (string.format with the customer id) of the profile, id
--     index, erased flag, memberships, conversion windows, pending decisions, sent
--     decisions, contact history, scored features (customer id, decision id), of a
--     device's owner (device token), of the order id index, of an anonymous profile's
--     link (docs/identity.md) and of a device's parked readings (device token);
--   since: contact history starts at this ms;
--   devices: [token, [event id hashes], and on a Redis Cluster its owner if known] of
--     device-only readings;
--   customers: [id, [event id hashes], [decision ids whose scored features are taken
--     (GETDEL: each decision is labelled once)], [those of the hashes that are orders'],
--     and, only when its events link any, [anonymous profile ids they link to it] and
--     [tokens of the devices they link to it]];
--   and on a Redis Cluster true: every key read stays in the call's slot (an anonymous
--   profile's link is claimed in its own slot beforehand, storage/stitch.py; here only
--   whether it was merged into the customer already is read).
-- A customer claims each anonymous profile its events link that has no link yet (and
-- no earlier customer of this call claimed): that profile is returned to be merged, and
-- its id indexes are looked up too. An anonymous profile (id '~...') that is linked, in
-- Redis or by a claim here, is not read: its events belong to its customer, like a
-- device's to its owner (a device of an anonymous profile follows that link too). The
-- readings parked for a device the batch links are read, and their ids looked up like
-- the batch's.
-- Returns {owners, links, rows, parked}: owners[i] = customer id of device i or false;
-- parked[i] = {readings parked for device i, its hashes already parked (1/0 each)}
-- (unlinked devices only, else false); links:
-- [anonymous id, customer] of the anonymous profiles asked that are linked; one row per
-- customer {id, profile or false, erased 0/1, event id hashes already applied (in the
-- id index, or for orders in the order index),
-- memberships or false, windows (flat hash), pending (values), sent (decision ids),
-- contacts (flat member, score), scored (aligned with the decision ids, blob or false),
-- merged [[anonymous id, profile or false]] or false, refused [anonymous ids another
-- customer holds] or false, readings parked for the devices linked (flat token, hash,
-- reading), on a Redis Cluster the anonymous ids asked already merged into it or false}.
local ask = cmsgpack.unpack(ARGV[1])
local T, since, devices, customers = ask[1], ask[2], ask[3], ask[4]
local order, wanted, takes, orders, waiting = {}, {}, {}, {}, {}
local claimed, merging, refused, marked = {}, {}, {}, {}

for _, customer in ipairs(customers) do
  local cid = customer[1]
  for _, anon in ipairs(ask[5] and {} or customer[5] or {}) do
    local linked = redis.call('GET', string.format(T[13], anon)) or claimed[anon]
    if not linked then
      claimed[anon] = cid
      merging[cid] = merging[cid] or {}
      table.insert(merging[cid], anon)
    elseif linked ~= cid then
      refused[cid] = refused[cid] or {}
      table.insert(refused[cid], anon)
    end
  end
end

-- The customer an anonymous profile was linked to (nil: none yet); others are their own.
local function owner_of(id)
  if string.byte(id) ~= 126 then return id end  -- not '~': a customer
  return redis.call('GET', string.format(T[13], id)) or claimed[id]
end

local function want(cid)
  if not wanted[cid] then
    order[#order + 1] = cid
    wanted[cid], takes[cid], orders[cid], waiting[cid] = {}, {}, {}, {}
  end
end

local owners, parked = {}, {}
for d, device in ipairs(devices) do
  -- device[3]: its owner, read beforehand on a Redis Cluster (this call is in its slot)
  local owner = device[3] or redis.call('GET', string.format(T[10], device[1]))
  if owner then owner = owner_of(owner) or owner end
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
local links = {}
for _, customer in ipairs(customers) do
  local cid = customer[1]
  local owner = owner_of(cid)
  if owner then
    if owner ~= cid then links[#links + 1] = {cid, owner} end
  else
    owner = cid
  end
  -- On a Redis Cluster (ask[5]) a linked owner's keys are in another slot: the link
  -- is reported and the caller reads the owner on its own.
  if ask[5] and owner ~= cid then owner = nil end
  if owner then
    want(owner)
    for _, id in ipairs(customer[2]) do table.insert(wanted[owner], id) end
    for _, did in ipairs(customer[3]) do table.insert(takes[owner], did) end
    for _, id in ipairs(customer[4]) do table.insert(orders[owner], id) end
    for _, anon in ipairs(ask[5] and customer[5] or {}) do
      if redis.call('SISMEMBER', string.format(T[14], cid), anon) == 1 then
        marked[cid] = marked[cid] or {}
        table.insert(marked[cid], anon)
      end
    end
    for _, token in ipairs(customer[6] or {}) do
      local flat = redis.call('HGETALL', string.format(T[12], token))
      for j = 1, #flat, 2 do
        table.insert(wanted[owner], flat[j])
        local w = waiting[owner]
        w[#w + 1], w[#w + 2], w[#w + 3] = token, flat[j], flat[j + 1]
      end
    end
  end
end

-- Adds to found the ids of the id index (a sorted set) and of the order index (a set).
local function lookup(of, ids, order_ids, found)
  for first = 1, #ids, 1000 do  -- unpack() is bounded: ask in chunks
    local last = math.min(first + 999, #ids)
    local scores = redis.call('ZMSCORE', string.format(T[2], of), unpack(ids, first, last))
    for j = 1, last - first + 1 do
      if scores[j] then found[#found + 1] = ids[first + j - 1] end
    end
  end
  for first = 1, #order_ids, 1000 do
    local last = math.min(first + 999, #order_ids)
    local member = redis.call('SMISMEMBER', string.format(T[11], of), unpack(order_ids, first, last))
    for j = 1, last - first + 1 do
      if member[j] == 1 then found[#found + 1] = order_ids[first + j - 1] end
    end
  end
end

local rows = {}
for _, cid in ipairs(order) do
  local function key(t) return string.format(T[t], cid) end
  local found, merged = {}, false
  lookup(cid, wanted[cid], orders[cid], found)
  if merging[cid] then
    merged = {}
    for j, anon in ipairs(merging[cid]) do
      lookup(anon, wanted[cid], orders[cid], found)
      merged[j] = {anon, redis.call('GET', string.format(T[1], anon))}
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
    merged,
    refused[cid] or false,
    waiting[cid],
    marked[cid] or false,
  }
end
return {owners, links, rows, parked}
