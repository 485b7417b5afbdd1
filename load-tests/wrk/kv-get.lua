-- Cache-hit GET /v1/kv/{key}: keys <prefix>-k<0 … keys-1>, which the runner wrote (and read back) before the run.
-- Arguments: prefix=<key prefix> keys=<key count> base=<path prefix of the target>.
local dir = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
local common = dofile(dir .. 'lib/common.lua')

local path, keys, headers

setup = common.setup

function init(args)
  local options = common.options(args)
  common.seed(thread_id)
  path = (options.base or '') .. '/v1/kv/' .. assert(options.prefix, 'prefix= is required') .. '-k'
  keys = assert(tonumber(options.keys), 'keys= is required')
  headers = common.headers()
end

function request()
  return wrk.format('GET', path .. math.random(0, keys - 1), headers)
end

done = common.done
