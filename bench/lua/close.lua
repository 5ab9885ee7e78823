-- One small request per connection (wrk -s close.lua): "Connection: close", so wrk opens a new connection for
-- every request and the target closes it after answering. Formatted once, in init().
local text

function init(args)
  wrk.headers["Connection"] = "close"
  text = wrk.format("GET", "/")
end

function request()
  return text
end
