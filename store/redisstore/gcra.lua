-- floodgate GCRA decision: core.Decide, line for line, in integer microseconds.
-- KEYS[1]  the key (its value: the TAT, an integer, µs since the Unix epoch)
-- ARGV[1]  emission interval T in µs (Period/Rate rounded up)
-- ARGV[2]  burst
-- ARGV[3]  cost n
-- ARGV[4]  "1" to record an admitted decision, "0" to only look (Peek)
-- ARGV[5]  optional "now" in µs, for tests; otherwise the server's TIME
-- Returns {allowed 0|1, remaining, retry_after µs, reset_after µs}.
-- Every value stays below 2^53, so Lua's doubles are exact.
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(ARGV[5])
if not now then
  local clock = redis.call("TIME")
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
local tat = tonumber(redis.call("GET", KEYS[1]) or 0) or 0
local tolerance = burst * t
local base = math.max(tat, now)
local nxt = base + n * t
local allow_at = nxt - tolerance
if allow_at > now then
  -- denied: write nothing, so retries do not extend the wait
  local remaining = math.floor(math.max(0, tolerance - (base - now)) / t)
  return {0, remaining, allow_at - now, base - now}
end
if ARGV[4] == "1" then
  -- the TTL covers the TAT, so no key ever lives without one
  redis.call("SET", KEYS[1], string.format("%d", nxt), "PX", string.format("%d", math.ceil((nxt - now) / 1000)))
end
return {1, math.floor((now - allow_at) / t), 0, nxt - now}
