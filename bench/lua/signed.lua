-- Requests signed beforehand (wrk -s signed.lua; BENCH_SIGNED names the file), cycled: SigV4 on every call.
-- Each line of the file: METHOD <tab> PATH <tab> then NAME: VALUE header fields separated by tabs.
-- Requests are formatted once, in init(), so wrk spends no Lua time per request.
local requests, n = {}, 0

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do fields[#fields + 1] = field end
  return fields
end

function init(args)
  for line in io.lines(os.getenv("BENCH_SIGNED")) do
    local fields = split(line)
    local headers = {}
    for i = 3, #fields do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    requests[#requests + 1] = wrk.format(fields[1], fields[2], headers)
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end
