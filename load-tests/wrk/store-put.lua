-- PUT /store {"key", "value"} (the reference store's route) with random keys <prefix>-r<0 … keys-1>.
-- Arguments: prefix=<key prefix> keys=<key space> size=<value length in characters> base=<path prefix>.
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local common = dofile(dir .. 'lib/common.lua')

local path, prefix, keys, value, headers

setup = common.setup

function init(args)
  local options = common.options(args)
  common.seed(thread_id)
  path = (options.base or '') .. '/store'
  prefix = assert(options.prefix, 'prefix= is required') .. '-r'
  keys = assert(tonumber(options.keys), 'keys= is required')
  value = 'wrk:' .. string.rep('.', math.max(0, (tonumber(options.size) or 128) - 4))
  headers = common.headers({ ['Content-Type'] = 'application/json' })
end

function request()
  local body = '{"key":"' .. prefix .. math.random(0, keys - 1) .. '","value":"' .. value .. '"}'
  return wrk.format('PUT', path, headers, body)
end

done = common.done
