-- floodgate reservation over one or more sliding-window lanes:
-- decide.Reserve, line for line, in integer µs.
-- KEYS[i]       lane i: a list of its events' times (µs, decimal), newest
--               first; it may hold slots ahead of now, more than Rate
-- ARGV[1]       cost n
-- ARGV[2]       from: the earliest slot, in µs from now
-- ARGV[3]       within: record the slot only if it lies at most this many
--               µs from now
-- ARGV[4]       "now" in µs for tests, or "" for the server's TIME
-- ARGV[3+2i]    lane i's Rate;  ARGV[4+2i] its Period in µs
-- Returns {recorded 0|1, remaining, µs until the slot, reset_after µs, i}
-- for the binding lane i (the one that set the slot last, else the first).
-- Recording inserts n copies of the slot in order on every lane and drops
-- the events that left the window; the TTL covers the newest event's stay
-- in the window. Nothing is written otherwise.
-- Healing: a lane whose value cannot be a log (an entry that is not an
-- integer, beyond 2^53, more than 2^51 µs ahead, or older than the entry
-- after it; another type) is read as absent and, when the slot is
-- recorded, rewritten.
local n, from, within = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
-- read returns lane key's live events, oldest first, their raw strings,
-- and whether the value was unreadable; or LRANGE's error reply when the
-- error is not the key's. The list is newest first, so reading stops at
-- the first event that left the window (the write trims the rest).
local function read(key, p)
  local raw = redis.pcall("LRANGE", key, 0, -1)
  if raw.err then
    if string.sub(raw.err, 1, 9) == "WRONGTYPE" then
      return {}, {}, true
    end
    return raw, nil, nil
  end
  local count, prev = 0, nil
  for j = 1, #raw do
    local t = tonumber(raw[j])
    if not t or t ~= math.floor(t) or t <= -2 ^ 53 or t >= 2 ^ 53 or t > now + 2 ^ 51 or (prev and t > prev) then
      return {}, {}, true
    end
    if t + p <= now then
      break -- this and every older event left the window
    end
    prev, count = t, j
  end
  local times, strs = {}, {}
  for j = count, 1, -1 do
    times[#times + 1] = tonumber(raw[j])
    strs[#strs + 1] = raw[j]
  end
  return times, strs, false
end
-- earliest is decide's earliest: the first instant from t on at which n
-- more events fit Rate per p, given the live events oldest first.
local function earliest(rate, p, times, t)
  local k = rate - n + 1
  for i = 1, #times - k + 1 do
    local lo, hi = times[i + k - 1] - p, times[i] + p
    if lo >= t then
      break
    end
    if t < hi then
      t = hi
    end
  end
  return t
end
local lanes = {}
for i = 1, #KEYS do
  local rate, p = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  local times, strs, bad = read(KEYS[i], p)
  if bad == nil then
    return times
  end
  lanes[i] = {rate = rate, p = p, times = times, strs = strs, bad = bad}
end
local at, bind = now + math.max(from, 0), 1
-- decide's barrier: no slot before an instant holding Rate events (a Block)
for i = 1, #KEYS do
  local ln = lanes[i]
  for j = #ln.times, ln.rate, -1 do
    if ln.times[j] == ln.times[j - ln.rate + 1] then
      if ln.times[j] > at then
        at, bind = ln.times[j], i
      end
      break
    end
  end
end
local moved = true
while moved do
  moved = false
  for i = 1, #KEYS do
    local ln = lanes[i]
    local t = earliest(ln.rate, ln.p, ln.times, at)
    if t > at then
      at, bind, moved = t, i, true
    end
  end
end
local b = lanes[bind]
local inWindow = n
for _, t in ipairs(b.times) do
  if t > at - b.p and t <= at then
    inWindow = inWindow + 1
  end
end
local newest = at
if #b.times > 0 and b.times[#b.times] > newest then
  newest = b.times[#b.times]
end
local res = {0, math.max(b.rate - inWindow, 0), at - now, newest + b.p - now, bind}
if at - now > within then
  return res
end
res[1] = 1
for i = 1, #KEYS do
  local key, ln = KEYS[i], lanes[i]
  local count = #ln.times
  if ln.bad or count == 0 then
    redis.call("DEL", key)
  else
    redis.call("LTRIM", key, 0, count - 1) -- drop the events that left
  end
  -- the newest live event at or before the slot: the slot goes before it
  -- (the list is newest first)
  local pivot = nil
  for j = count, 1, -1 do
    if ln.times[j] <= at then
      pivot = j
      break
    end
  end
  for _ = 1, n do
    if pivot == count then
      redis.call("LPUSH", key, at)
    elseif pivot == nil then
      redis.call("RPUSH", key, at)
    else
      redis.call("LINSERT", key, "BEFORE", ln.strs[pivot], at)
    end
  end
  local last = at
  if count > 0 and ln.times[count] > last then
    last = ln.times[count]
  end
  redis.call("PEXPIRE", key, math.ceil((last + ln.p - now) / 1000))
end
return res
