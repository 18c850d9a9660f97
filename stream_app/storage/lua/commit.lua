-- Run a batch's writes if every guard holds, else none (storage/commit.py).
-- ARGV[1]: MessagePack [guards, commands]. A guard is [key, version]: version >= 0 means
-- the JSON document at key starts with {"v":<version>, (0: the key is absent); -1 means
-- the key must not exist. A command is an array of words, e.g. ["HINCRBY", key, f, 1], or a
-- compare-and-set ["HSETIF", key, field, want, value, <then: a command>]: the hash field is set
-- to value, and the then-command run, only if the field holds want ("": absent), so a counter
-- behind it counts a change once however often its batch runs.
-- Returns the keys whose guard failed (empty: everything was written).
local batch = cmsgpack.unpack(ARGV[1])
local guards, commands = batch[1], batch[2]
local failed = {}
for _, guard in ipairs(guards) do
  local key, want = guard[1], guard[2]
  local ok
  if want < 0 then
    ok = redis.call('EXISTS', key) == 0
  else
    local head = redis.call('GETRANGE', key, 0, 31)
    local have = tonumber(string.match(head, '^{"v":(%d+)')) or 0
    ok = have == want
  end
  if not ok then failed[#failed + 1] = key end
end
if #failed > 0 then return failed end
for _, command in ipairs(commands) do
  if command[1] == 'HSETIF' then
    if (redis.call('HGET', command[2], command[3]) or '') == command[4] then
      redis.call('HSET', command[2], command[3], command[5])
      redis.call(unpack(command, 6))
    end
  else
    redis.call(unpack(command))
  end
end
return failed
