-- floodgate GCRA decision: decide.GCRA, line for line, in integer microseconds,
-- for one key or, when the Store merges concurrent decisions
-- (WithMergedScripts), several.
-- KEYS[i]       a key; its value: the TAT, µs since the Unix epoch, in decimal
-- ARGV[5i-4]    emission interval T in µs (Period/Rate rounded up)
-- ARGV[5i-3]    burst
-- ARGV[5i-2]    cost n
-- ARGV[5i-1]    "1" to record an admitted decision, "0" to only look (Peek)
-- ARGV[5i]      "now" in µs, for tests, or "" for the server's TIME
-- Returns, for one key, {allowed 0|1, remaining, retry_after µs, reset_after µs}
-- or an error reply; for several, an array of such replies in KEYS order. A
-- command's error (OOM, a key the user may not touch) is the reply of its
-- own key only. Decisions run in KEYS order, each on the state the previous
-- ones left, exactly as if sent one by one.
-- Healing: a value that cannot be a TAT (another type: WRONGTYPE; not a
-- decimal integer; beyond 2^53; more than 2^51 µs ahead: decide.ValidTAT)
-- is read as absent, a fresh key. The next admitted Take overwrites it (SET
-- replaces any type); a Peek writes nothing. A denial writes nothing, except
-- a TTL on a key that has none (planted by hand), so that no key lives
-- forever. Every value stays below 2^53, so Lua's doubles are exact, and
-- Redis passes integral numbers to commands in full (no exponent).
local clock
local replies = {}
for i = 1, #KEYS do
  local key, a = KEYS[i], 5 * (i - 1)
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
  local tat, reply = 0, nil -- 0: absent
  local stored = redis.pcall("GET", key)
  if type(stored) == "table" then
    if string.sub(stored.err, 1, 9) ~= "WRONGTYPE" then
      reply = stored -- not the key's fault: this decision fails
    end
  elseif stored and string.find(stored, "^%-?%d+$") then
    local v = tonumber(stored)
    if v > -2 ^ 53 and v < 2 ^ 53 and v <= now + 2 ^ 51 then
      tat = v
    end
  end
  if not reply then
    local base = math.max(tat, now)
    local nxt = base + tonumber(ARGV[a + 3]) * t
    local allow_at = nxt - tolerance
    if allow_at > now then
      -- denied: write nothing, so retries do not extend the wait
      reply = {0, math.floor(math.max(0, tolerance - (base - now)) / t), allow_at - now, base - now}
      if ARGV[a + 4] == "1" and redis.pcall("PTTL", key) == -1 then
        local r = redis.pcall("PEXPIRE", key, math.ceil((base - now) / 1000))
        if type(r) == "table" then
          reply = r
        end
      end
    else
      reply = {1, math.floor((now - allow_at) / t), 0, nxt - now}
      if ARGV[a + 4] == "1" then
        -- the TTL covers the TAT, so no key ever lives without one
        local r = redis.pcall("SET", key, nxt, "PX", math.ceil((nxt - now) / 1000))
        if r.err then
          reply = r
        end
      end
    end
  end
  replies[i] = reply
end
if #KEYS == 1 then
  return replies[1]
end
return replies
