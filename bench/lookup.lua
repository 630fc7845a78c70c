-- wrk script for GET /order?id=...: spreads the requests round-robin over the ids in a file,
-- optionally paces them to a fixed rate, and prints a one-line JSON summary in done().
--
--   [BENCH_RATE_PER_THREAD=R] wrk -t1 -c16 -d10s --latency -s bench/lookup.lua URL -- IDS_FILE
--
-- Pacing: each thread keeps one schedule, a slot every 1000/R ms; delay() makes the next free
-- connection wait for the next slot (LuaJIT's ffi reads the monotonic clock). wrk times a
-- request from when it is sent, so a stall longer than the connections can absorb is
-- under-counted (wrk2 corrects for that; Debian has no wrk2).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

local requests = {}
local next_request = 1

function init(args)
  local ids_file = args[1]
  for id in io.lines(ids_file) do
    if id ~= "" then
      table.insert(requests, wrk.format("GET", "/order?id=" .. id))
    end
  end
  if #requests == 0 then
    error("no ids in " .. tostring(ids_file))
  end
  -- threads start at different places in the list, so they do not ask for the same ids
  next_request = ((thread_index - 1) * 7919) % #requests + 1
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

local rate = tonumber(os.getenv("BENCH_RATE_PER_THREAD") or "0")
if rate > 0 then
  -- wrk calls delay() only if the script defines it: an unpaced run pays nothing for it
  local ffi = require("ffi")
  ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local CLOCK_MONOTONIC = 1
  local timespec = ffi.new("bench_timespec")
  local interval_ms = 1000 / rate
  local next_slot = nil

  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
    return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
  end

  function delay()
    local now = now_ms()
    if next_slot == nil then
      next_slot = now
    end
    local slot = next_slot
    next_slot = next_slot + interval_ms
    if slot <= now then
      return 0
    end
    return slot - now
  end
end

function done(summary, latency, _)
  local p = function(q) return latency:percentile(q) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p99.9": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, p(50), p(90), p(99), p(99.9), latency.max))
end
