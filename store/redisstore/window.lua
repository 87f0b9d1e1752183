-- floodgate sliding-window decision over one or more lanes, all or nothing:
-- core.DecideLanes / core.DecideWindow, line for line, in integer µs.
-- KEYS[i]       lane i: a list of its events' times (µs), newest first
-- ARGV[1]       cost n
-- ARGV[2]       "1" to record an admitted decision, "0" to only look (Peek)
-- ARGV[3]       "now" in µs for tests, or "" for the server's TIME
-- ARGV[2+2i]    lane i's Rate;  ARGV[3+2i] its Period in µs
-- Returns the binding lane's {allowed 0|1, remaining, retry_after µs,
-- reset_after µs, i}: when denied the longest wait, when admitted the
-- fewest remaining (the first on a tie). A denial writes nothing.
local n = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
local best, lane
local live, at = {}, {}
for i = 1, #KEYS do
  local rate, p = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local log = redis.call("LRANGE", KEYS[i], 0, rate - 1)
  local count = 0
  for j = 1, #log do
    local t = tonumber(log[j])
    if t + p <= now then break end -- this and every older event left the window
    log[j] = t
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
    live[i] = count
    r = {1, rate - count - n, 0, at[i] + p - now}
  end
  if i == 1 or (r[1] == 0 and (best[1] == 1 or r[3] > best[3])) or
      (r[1] == 1 and best[1] == 1 and r[2] < best[2]) then
    best, lane = r, i
  end
end
if best[1] == 1 and ARGV[2] == "1" then
  for i = 1, #KEYS do
    local p = tonumber(ARGV[3 + 2 * i])
    if live[i] == 0 then
      redis.call("DEL", KEYS[i])
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
best[5] = lane
return best
