-- floodgate GCRA decision: core.Decide, line for line, in integer microseconds,
-- for one key or, when the Store coalesces concurrent decisions, several.
-- KEYS[i]       a key (its value: the TAT, an integer, µs since the Unix epoch)
-- ARGV[5i-4]    emission interval T in µs (Period/Rate rounded up)
-- ARGV[5i-3]    burst
-- ARGV[5i-2]    cost n
-- ARGV[5i-1]    "1" to record an admitted decision, "0" to only look (Peek)
-- ARGV[5i]      "now" in µs, for tests, or "" for the server's TIME
-- Returns, for one key, {allowed 0|1, remaining, retry_after µs, reset_after µs};
-- for several, an array of such replies, in KEYS order, where a key holding
-- something else than a TAT gets its own error (WRONGTYPE) and the others
-- are decided. Decisions run in KEYS order, each on the state the previous
-- ones left, exactly as if sent one by one. Every value stays below 2^53,
-- so Lua's doubles are exact, and Redis passes integral numbers to commands
-- in full (no exponent).
local clock
local replies = {}
for i = 1, #KEYS do
  local a = 5 * (i - 1)
  local t = tonumber(ARGV[a + 1])
  local tolerance = t * tonumber(ARGV[a + 2])
  local now = tonumber(ARGV[a + 5])
  if not now then
    if not clock then
      local tm = redis.call("TIME")
      clock = tm[1] * 1000000 + tm[2]
    end
    now = clock
  end
  local stored = redis.pcall("GET", KEYS[i])
  if type(stored) == "table" and stored.err then
    if #KEYS == 1 then
      return stored
    end
    replies[i] = stored
  else
    local base = tonumber(stored) or now
    if base < now then
      base = now -- an idle key has caught up with the clock
    end
    local nxt = base + tonumber(ARGV[a + 3]) * t
    local allow_at = nxt - tolerance
    if allow_at > now then
      -- denied: write nothing, so retries do not extend the wait
      replies[i] = {0, math.floor(math.max(0, tolerance - (base - now)) / t), allow_at - now, base - now}
    else
      if ARGV[a + 4] == "1" then
        -- the TTL covers the TAT, so no key ever lives without one
        redis.call("SET", KEYS[i], nxt, "PX", math.ceil((nxt - now) / 1000))
      end
      replies[i] = {1, math.floor((now - allow_at) / t), 0, nxt - now}
    end
  end
end
if #KEYS == 1 then
  return replies[1]
end
return replies
