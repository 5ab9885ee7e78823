-- mix.lua at a fixed request rate (BENCH_RATE requests/s in total), for latency at a given load.
-- wrk asks delay() before each request of every connection; the answer is the wait (ms) until the next slot
-- of one global schedule (one slot every 1/BENCH_RATE s), so the offered rate holds whatever the latency,
-- as long as a connection is free for each slot. Behind schedule, requests go at once (no slot is skipped);
-- latency is measured from the moment a request is sent (wrk does not correct for coordinated omission).
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "mix.lua")

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now_buffer = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_buffer)
  return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local interval = 1000 / tonumber(os.getenv("BENCH_RATE") or "1000")
local slot = nil

function delay()
  local now = now_ms()
  if slot == nil then slot = now end
  slot = slot + interval
  local wait = slot - now
  if wait < 0 then return 0 end
  return wait
end
