-- The request mix every L7 run sends (wrk -s mix.lua): ten requests, cycled, exercising each routing rule.
--   6 x GET /            the default action: 80/20 weighted forward to blue/green
--   2 x GET /v2/items    the path rule (prefix /v2) to green
--   2 x GET / with x-canary: true   the header rule to green
-- The Host header comes from wrk -H; requests are formatted once, in init(), so wrk spends no Lua time per request.
local variants = {
  {"/", nil}, {"/", nil}, {"/v2/items", nil}, {"/", nil}, {"/", {["x-canary"] = "true"}},
  {"/", nil}, {"/v2/items", nil}, {"/", nil}, {"/", {["x-canary"] = "true"}}, {"/", nil},
}
local requests, n = {}, 0

function init(args)
  for i, v in ipairs(variants) do
    local headers = {}
    for k, value in pairs(wrk.headers) do headers[k] = value end
    for k, value in pairs(v[2] or {}) do headers[k] = value end
    requests[i] = wrk.format("GET", v[1], headers)
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end
