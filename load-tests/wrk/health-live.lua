-- GET /health/live through the gateway: the cheapest request the API answers, the denominator of the
-- cache-hit ratio. Arguments: base=<path prefix of the target, usually empty>.
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local common = dofile(dir .. 'lib/common.lua')

local request_bytes

function init(args)
  local options = common.options(args)
  request_bytes = wrk.format('GET', (options.base or '') .. '/health/live', common.headers())
end

function request()
  return request_bytes
end

done = common.done
