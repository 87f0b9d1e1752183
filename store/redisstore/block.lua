-- floodgate: block a sliding-window lane for a while (core.BlockWindow).
-- KEYS[1]  the lane: a list of its events' times (µs), newest first
-- ARGV[1]  Rate; ARGV[2] Period in µs; ARGV[3] the block's length in µs
-- ARGV[4]  "now" in µs for tests, or "" for the server's TIME
-- Every one of the Rate slots gets at least now+d-Period, so the lane
-- admits nothing for d; newer events keep their time (never shortened).
local rate, p, d = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
local floor = now + d - p
local log = redis.call("LRANGE", KEYS[1], 0, rate - 1)
local newest = floor
redis.call("DEL", KEYS[1])
local slots = {}
for j = 1, rate do
  local t = tonumber(log[j])
  if t == nil or t < floor then
    t = floor
  end
  if j == 1 then
    newest = t
  end
  slots[#slots + 1] = t
  if #slots == 1000 or j == rate then -- stay under Lua's unpack limit
    redis.call("RPUSH", KEYS[1], unpack(slots))
    slots = {}
  end
end
redis.call("PEXPIRE", KEYS[1], math.ceil((newest + p - now) / 1000))
return 1
