-- Shared by the keyflow wrk scripts (load-tests/wrk/*.lua); loaded with dofile() from the script's own directory.
-- Every script gets its parameters as `wrk … <url> -- name=value …` (see runner/src/wrk/wrk-command.util.ts) and
-- the bearer token, if any, from the environment (WRK_TOKEN), so it never shows in the process list.

local common = {}

-- `name=value` arguments after `--` as a table.
function common.options(args)
  local options = {}
  for _, arg in ipairs(args or {}) do
    local name, value = arg:match('^([%w_-]+)=(.*)$')
    if name then options[name] = value end
  end
  return options
end

-- The headers every request carries: the bearer token as the Node runner sends it.
function common.headers(extra)
  local headers = {}
  local token = os.getenv('WRK_TOKEN')
  if token and token ~= '' then headers['Authorization'] = 'Bearer ' .. token end
  for name, value in pairs(extra or {}) do headers[name] = value end
  return headers
end

-- Threads get distinct ids (setup runs in the main Lua state, once per thread), so their random keys differ.
local next_id = 0
function common.setup(thread)
  thread:set('thread_id', next_id)
  next_id = next_id + 1
end

function common.seed(id)
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
end

-- The result as one JSON line after wrk's own summary: latencies in microseconds, errors by kind.
-- `status` counts responses with a status >= 400 (wrk's "Non-2xx or 3xx responses").
function common.done(summary, latency)
  local e = summary.errors
  io.write(string.format(
    'wrk-result: {"durationUs":%d,"requests":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

return common
