-- A model snapshot written only over the version its learner published last
-- (storage/scoring.py ModelStore.save): one key, so it runs alike on a cluster.
-- KEYS: 1 the model's hash
-- ARGV: 1 the version it must hold now ('' : none), 2.. field, value, ... to write
-- Returns 1 when written, 0 when another learner published meanwhile.
local stored = redis.call('HGET', KEYS[1], 'version') or ''
if stored ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
