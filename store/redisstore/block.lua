-- floodgate block: make a key admit nothing for a while, under either
-- algorithm (decide.BlockGCRA, decide.BlockWindow), never shortening an
-- existing block, always leaving a TTL.
-- KEYS[1]  the key: a GCRA TAT (µs, decimal), or a sliding-window lane (a
--          list of its events' times, µs, newest first)
-- ARGV[1]  "gcra" or "window"
-- ARGV[2]  GCRA: the emission interval T in µs;  window: Rate
-- ARGV[3]  GCRA: Burst;                          window: Period in µs
-- ARGV[4]  the block's length d in µs
-- ARGV[5]  "now" in µs for tests, or "" for the server's TIME
-- GCRA: the TAT becomes max(tat, now + d + (Burst-1)T), with PX to it.
-- Window: Rate events at now+d-Period, so the lane admits nothing for d,
-- after the events recorded later, which keep their time (slots reserved
-- ahead included); Reserve places no slot before an instant holding Rate
-- events.
-- Healing: a value that cannot be the algorithm's state (the rules of
-- gcra.lua and window.lua) is read as absent and overwritten. Returns 1.
local key, d = KEYS[1], tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
-- valid returns s as a number if it can be a stored time, else nil.
local function valid(s)
  if not string.find(s, "^%-?%d+$") then
    return nil
  end
  local t = tonumber(s)
  if t <= -2 ^ 53 or t >= 2 ^ 53 or t > now + 2 ^ 51 then
    return nil
  end
  return t
end
if ARGV[1] == "gcra" then
  local t, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
  local tat = 0 -- absent
  local stored = redis.pcall("GET", key)
  if type(stored) == "table" then
    if string.sub(stored.err, 1, 9) ~= "WRONGTYPE" then
      return stored
    end
  elseif stored then
    tat = valid(stored) or 0
  end
  local new = math.max(tat, now + d + (burst - 1) * t)
  redis.call("SET", key, new, "PX", math.ceil((new - now) / 1000))
  return 1
end
local rate, p = tonumber(ARGV[2]), tonumber(ARGV[3])
local log = redis.pcall("LRANGE", key, 0, -1) -- slots reserved ahead included
if log.err then
  if string.sub(log.err, 1, 9) ~= "WRONGTYPE" then
    return log
  end
  log = {}
end
for j = 1, #log do
  local t = valid(log[j])
  if not t or (j > 1 and t > log[j - 1]) then
    log = {} -- unreadable: absent
    break
  end
  log[j] = t
end
local floor = now + d - p
-- decide's barrier: an instant from floor on already holding Rate events
-- bars every slot before floor + p; nothing changes (one mark at most)
for j = 1, #log - rate + 1 do
  if log[j] == log[j + rate - 1] then
    if log[j] >= floor then
      return 1
    end
    break
  end
end
local newest = floor
redis.call("DEL", key)
local slots = {}
-- the events after floor keep their time (newest first), then Rate events
-- at floor: decide.BlockWindow
for j = 1, #log do
  if log[j] > floor then
    if j == 1 then
      newest = log[j]
    end
    slots[#slots + 1] = log[j]
  end
end
for _ = 1, rate do
  slots[#slots + 1] = floor
end
for j = 1, #slots, 1000 do -- stay under Lua's unpack limit
  redis.call("RPUSH", key, unpack(slots, j, math.min(j + 999, #slots)))
end
redis.call("PEXPIRE", key, math.ceil((newest + p - now) / 1000))
return 1
