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
-- in the window. Otherwise only the expired events of a lane that keeps
-- live ones are dropped.
-- Cost: a lane with more than 2·span live events (span = 2·Rate + n) is
-- read at its two ends only, span events each (decide.Span), so a call
-- costs the same however many slots are reserved ahead; the expired
-- events at its old end are read to be dropped, each once.
-- Healing: a lane whose value cannot be a log (an entry read that is not
-- an integer, beyond 2^53, more than 2^51 µs ahead, or older than the
-- entry after it; another type) is read as absent and, when the slot is
-- recorded, rewritten.
local n, from, within = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
-- valid returns the stored string s as a time if it can be one (an
-- integer below 2^53, at most 2^51 µs ahead), else nil.
local function valid(s)
  local t = tonumber(s)
  if not t or t ~= math.floor(t) or t <= -2 ^ 53 or t >= 2 ^ 53 or t > now + 2 ^ 51 then
    return nil
  end
  return t
end
-- segment turns LRANGE's reply (newest first) into times and raw strings
-- oldest first, or nil when an entry is not a time or the order is wrong.
local function segment(raw)
  local times, strs = {}, {}
  for j = #raw, 1, -1 do
    local t = valid(raw[j])
    if not t or (#times > 0 and t < times[#times]) then
      return nil
    end
    times[#times + 1], strs[#strs + 1] = t, raw[j]
  end
  return times, strs
end
-- read returns lane key's view, as decide's: its live events oldest first
-- (whole, or its two ends old and fresh when it holds more than 2·span),
-- how many expired events lie at its old end (gone), and bad when the
-- value cannot be a log; or the error reply when the error is not the
-- key's. The list is newest first: its old end is its right end.
local function read(key, rate, p)
  local span = 2 * rate + n
  local ln = {rate = rate, p = p, gone = 0, bad = false}
  local len = redis.pcall("LLEN", key)
  if type(len) == "table" then
    if string.sub(len.err, 1, 9) == "WRONGTYPE" then
      ln.bad, ln.times, ln.strs = true, {}, {}
      return ln
    end
    return nil, len
  end
  -- the expired events at the old end, a span at a time
  local scanning = true
  while scanning and ln.gone < len do
    local raw = redis.call("LRANGE", key, -(ln.gone + span), -(ln.gone + 1))
    scanning = false
    for j = #raw, 1, -1 do
      local t = valid(raw[j])
      if not t then
        ln.bad, ln.times, ln.strs = true, {}, {}
        return ln
      end
      if t + p > now then
        break
      end
      ln.gone = ln.gone + 1
      scanning = j == 1
    end
  end
  local live = len - ln.gone
  local ok = true
  if live == 0 then
    ln.times, ln.strs = {}, {}
  elseif live <= 2 * span then
    ln.times, ln.strs = segment(redis.call("LRANGE", key, 0, live - 1))
    ok = ln.times ~= nil
  else
    ln.old, ln.oldStrs = segment(redis.call("LRANGE", key, -(ln.gone + span), -(ln.gone + 1)))
    ln.fresh, ln.freshStrs = segment(redis.call("LRANGE", key, 0, span - 1))
    ok = ln.old ~= nil and ln.fresh ~= nil and ln.old[#ln.old] <= ln.fresh[1]
  end
  if not ok then
    ln.bad, ln.times, ln.strs, ln.old, ln.fresh = true, {}, {}, nil, nil
  end
  return ln
end
-- segs returns the parts of the lane's log that were read.
local function segs(ln)
  if ln.old then
    return {ln.old, ln.fresh}
  end
  return {ln.times}
end
-- earliest is decide's earliest: the first instant from t on at which n
-- more events fit Rate per p, given live events oldest first.
local function earliest(rate, p, times, t)
  local k = rate - n + 1
  for i = 1, #times - k + 1 do
    local lo, hi = times[i + k - 1] - p, times[i] + p
    if lo >= t then
      break
    end
    if t < hi and times[i + k - 1] - times[i] < p then
      t = hi
    end
  end
  return t
end
-- fit is decide's view.earliest: among the old end while it alone decides,
-- else from the fresh end's oldest event plus Period on.
local function fit(ln, t)
  if not ln.old then
    return earliest(ln.rate, ln.p, ln.times, t)
  end
  local r = earliest(ln.rate, ln.p, ln.old, t)
  if r <= ln.old[#ln.old] - ln.p then
    return r
  end
  return earliest(ln.rate, ln.p, ln.fresh, math.max(t, ln.fresh[1] + ln.p))
end
local lanes = {}
for i = 1, #KEYS do
  local ln, err = read(KEYS[i], tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i]))
  if not ln then
    return err
  end
  lanes[i] = ln
end
local at, bind = now + math.max(from, 0), 1
-- decide's barrier: no slot before an instant holding Rate events (a Block)
for i = 1, #KEYS do
  local ln = lanes[i]
  for _, times in ipairs(segs(ln)) do
    for j = #times, ln.rate, -1 do
      if times[j] == times[j - ln.rate + 1] then
        if times[j] > at then
          at, bind = times[j], i
        end
        break
      end
    end
  end
end
local moved = true
while moved do
  moved = false
  for i = 1, #KEYS do
    local ln = lanes[i]
    local t = fit(ln, at)
    if t > at then
      at, bind, moved = t, i, true
    end
  end
end
local b = lanes[bind]
local inWindow = n
for _, times in ipairs(segs(b)) do
  for _, t in ipairs(times) do
    if t > at - b.p and t <= at then
      inWindow = inWindow + 1
    end
  end
end
-- newest returns the lane's newest live event, or nil.
local function newest(ln)
  local s = segs(ln)
  local times = s[#s]
  return times[#times]
end
local last = math.max(at, newest(b) or at)
local res = {0, math.max(b.rate - inWindow, 0), at - now, last + b.p - now, bind}
if at - now > within then
  -- nothing recorded; the expired events at a lane's old end are dropped
  -- all the same (no decision reads them), so that a run of refusals
  -- does not read them again and again
  for i = 1, #KEYS do
    local ln = lanes[i]
    if not ln.bad and ln.gone > 0 and newest(ln) ~= nil then
      redis.call("LTRIM", KEYS[i], 0, -(ln.gone + 1))
    end
  end
  return res
end
res[1] = 1
for i = 1, #KEYS do
  local key, ln = KEYS[i], lanes[i]
  local top = newest(ln)
  if ln.bad or top == nil then
    redis.call("DEL", key)
  elseif ln.gone > 0 then
    redis.call("LTRIM", key, 0, -(ln.gone + 1)) -- drop the events that left
  end
  -- the slot goes before the newest event at or before it (the list is
  -- newest first): found in the fresh end, else the old end; none: last
  local parts = {{ln.times, ln.strs}}
  if ln.old then
    parts = {{ln.fresh, ln.freshStrs}, {ln.old, ln.oldStrs}}
  end
  local placed = false
  for k, part in ipairs(parts) do
    local times, strs = part[1], part[2]
    for j = #times, 1, -1 do
      if times[j] <= at then
        for _ = 1, n do
          if k == 1 and j == #times then
            redis.call("LPUSH", key, at)
          else
            redis.call("LINSERT", key, "BEFORE", strs[j], at)
          end
        end
        placed = true
        break
      end
    end
    if placed then
      break
    end
  end
  if not placed then
    for _ = 1, n do
      redis.call("RPUSH", key, at)
    end
  end
  redis.call("PEXPIRE", key, math.ceil((math.max(at, top or at) + ln.p - now) / 1000))
end
return res
