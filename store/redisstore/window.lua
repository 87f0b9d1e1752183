-- floodgate sliding-window decision over one or more lanes, all or nothing:
-- decide.Lanes / decide.Window, line for line, in integer µs.
-- KEYS[i]       lane i: a list of its events' times (µs, decimal), newest first
-- ARGV[1]       cost n
-- ARGV[2]       "1" to record an admitted decision, "0" to only look (Peek)
-- ARGV[3]       "now" in µs for tests, or "" for the server's TIME
-- ARGV[2+2i]    lane i's Rate;  ARGV[3+2i] its Period in µs
-- Returns the binding lane's {allowed 0|1, remaining, retry_after µs,
-- reset_after µs, i}: when denied the longest wait, when admitted the
-- fewest remaining (the first on a tie). A denial writes nothing, except a
-- TTL on a lane that has none (planted by hand), so that no key lives
-- forever.
-- Healing: a lane whose value cannot be a log (another type: WRONGTYPE; an
-- entry that is not a decimal integer, beyond 2^53, more than 2^51 µs
-- ahead, or older than the entry after it: decide.ValidTimes, the list
-- being newest first) is read as absent. An admitted Take deletes it and
-- writes a fresh log with a TTL; a Peek or a denial writes nothing.
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
-- read returns lane key's first rate entries as numbers, newest first, and
-- whether the value was unreadable (then the log is empty); or LRANGE's
-- error reply and nil when the error is not the key's (the decision fails).
local function read(key, rate)
  local log = redis.pcall("LRANGE", key, 0, rate - 1)
  if log.err then
    if string.sub(log.err, 1, 9) == "WRONGTYPE" then
      return {}, true
    end
    return log, nil
  end
  for j = 1, #log do
    if not string.find(log[j], "^%-?%d+$") then
      return {}, true
    end
    local t = tonumber(log[j])
    if t <= -2 ^ 53 or t >= 2 ^ 53 or t > now + 2 ^ 51 or (j > 1 and t > log[j - 1]) then
      return {}, true
    end
    log[j] = t
  end
  return log, false
end
local best, lane
local live, at, foreign, newest = {}, {}, {}, {}
for i = 1, #KEYS do
  local rate, p = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local log, bad = read(KEYS[i], rate)
  if bad == nil then
    return log
  end
  foreign[i] = bad
  local count = 0
  for j = 1, #log do
    if log[j] + p <= now then break end -- this and every older event left the window
    count = j
  end
  local r
  if count + n > rate then
    -- the (count+n-rate)-th oldest live event must leave first
    r = {0, math.max(0, rate - count), log[rate - n + 1] + p - now, log[1] + p - now}
  else
    at[i] = now
    if count > 0 and log[1] > now then
      at[i] = log[1] -- never record an event before a newer one
    end
    r = {1, rate - count - n, 0, at[i] + p - now}
  end
  live[i], newest[i] = count, log[1]
  if i == 1 or (r[1] == 0 and (best[1] == 1 or r[3] > best[3])) or
      (r[1] == 1 and best[1] == 1 and r[2] < best[2]) then
    best, lane = r, i
  end
end
if best[1] == 1 and ARGV[2] == "1" then
  for i = 1, #KEYS do
    local p = tonumber(ARGV[3 + 2 * i])
    if live[i] == 0 or foreign[i] then
      redis.call("DEL", KEYS[i]) -- nothing live, or a value to heal
    else
      redis.call("LTRIM", KEYS[i], 0, live[i] - 1) -- drop the events that left
    end
    local stamps = {}
    for j = 1, n do
      stamps[#stamps + 1] = at[i]
      if #stamps == 1000 or j == n then -- stay under Lua's unpack limit
        redis.call("LPUSH", KEYS[i], unpack(stamps))
        stamps = {}
      end
    end
    -- the TTL covers the newest event's stay in the window
    redis.call("PEXPIRE", KEYS[i], math.ceil((at[i] + p - now) / 1000))
  end
end
if best[1] == 0 and ARGV[2] == "1" then
  -- denied: write nothing, but a TTL on a lane that has none (planted by
  -- hand), covering its newest live event's stay in the window
  for i = 1, #KEYS do
    if live[i] > 0 and redis.pcall("PTTL", KEYS[i]) == -1 then
      redis.call("PEXPIRE", KEYS[i], math.ceil((newest[i] + tonumber(ARGV[3 + 2 * i]) - now) / 1000))
    end
  end
end
best[5] = lane
return best
