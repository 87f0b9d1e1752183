-- floodgate GCRA decision: core.Decide, line for line, in integer microseconds.
-- KEYS[1]  the key (its value: the TAT, an integer, µs since the Unix epoch)
-- ARGV[1]  emission interval T in µs (Period/Rate rounded up)
-- ARGV[2]  burst
-- ARGV[3]  cost n
-- ARGV[4]  "1" to record an admitted decision, "0" to only look (Peek)
-- ARGV[5]  optional "now" in µs, for tests; otherwise the server's TIME
-- Returns {allowed 0|1, remaining, retry_after µs, reset_after µs}.
-- Every value stays below 2^53, so Lua's doubles are exact, and Redis
-- passes integral numbers to commands in full (no exponent).
local t = tonumber(ARGV[1])
local tolerance = t * tonumber(ARGV[2])
local now = tonumber(ARGV[5])
if not now then
  local clock = redis.call("TIME")
  now = clock[1] * 1000000 + clock[2]
end
local base = tonumber(redis.call("GET", KEYS[1])) or now
if base < now then
  base = now -- an idle key has caught up with the clock
end
local nxt = base + tonumber(ARGV[3]) * t
local allow_at = nxt - tolerance
if allow_at > now then
  -- denied: write nothing, so retries do not extend the wait
  return {0, math.floor(math.max(0, tolerance - (base - now)) / t), allow_at - now, base - now}
end
if ARGV[4] == "1" then
  -- the TTL covers the TAT, so no key ever lives without one
  redis.call("SET", KEYS[1], nxt, "PX", math.ceil((nxt - now) / 1000))
end
return {1, math.floor((now - allow_at) / t), 0, nxt - now}
