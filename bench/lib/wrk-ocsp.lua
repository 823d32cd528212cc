-- wrk script of bench/ocsp: POSTs DER OCSP requests with Content-Type application/ocsp-request.
--
-- OCSP_BODIES  a file of requests, each a 2-byte big-endian length and then the DER
--              (bench/lib/ocsp-req.ts packBodies). One request: wrk sends it as a static
--              request (no Lua per request). Several: each thread cycles through all of
--              them, starting at its own offset.
-- OCSP_THREADS the -t given to wrk (spreads the starting offsets).
-- OCSP_CHECK   "1": also inspect every response (HTTP 200, Content-Type
--              application/ocsp-response, an OCSPResponse whose responseStatus is
--              successful). The measured runs leave it off: a response hook makes wrk pass
--              every response to Lua, which costs wrk CPU on the cores it shares.
--
-- done() prints one line, "OCSPBENCH " and a JSON object: counts, errors and latency
-- percentiles in microseconds.

local function readBodies(path)
  local f = assert(io.open(assert(path, "OCSP_BODIES is not set"), "rb"))
  local data = f:read("*a")
  f:close()
  local out, pos = {}, 1
  while pos + 1 <= #data do
    local hi, lo = data:byte(pos, pos + 1)
    local len = hi * 256 + lo
    out[#out + 1] = data:sub(pos + 2, pos + 1 + len)
    pos = pos + 2 + len
  end
  assert(#out > 0, "no request in OCSP_BODIES")
  return out
end

local bodies = readBodies(os.getenv("OCSP_BODIES"))
local nthreads = tonumber(os.getenv("OCSP_THREADS") or "1") or 1

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/ocsp-request"
wrk.body = bodies[1]

local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created)
  table.insert(threads, thread)
end

if #bodies > 1 then
  local reqs, n, i = {}, 0, 0
  function init(args)
    for k = 1, #bodies do
      reqs[k] = wrk.format(nil, nil, nil, bodies[k])
    end
    n = #reqs
    local t = tid or 1
    i = math.floor((t - 1) * n / nthreads)
  end
  function request()
    i = i + 1
    if i > n then
      i = 1
    end
    return reqs[i]
  end
end

checked = 0
failed = 0

local function successful(body)
  if body == nil or #body < 5 or body:byte(1) ~= 0x30 then
    return false
  end
  local l = body:byte(2)
  local p = 3
  if l >= 0x80 then
    p = 3 + (l - 0x80)
  end
  -- responseStatus ENUMERATED successful (0)
  return body:byte(p) == 0x0a and body:byte(p + 1) == 0x01 and body:byte(p + 2) == 0x00
end

if os.getenv("OCSP_CHECK") == "1" then
  function response(status, headers, body)
    checked = checked + 1
    local ct
    for k, v in pairs(headers) do
      if string.lower(k) == "content-type" then
        ct = v
      end
    end
    if status ~= 200 or ct ~= "application/ocsp-response" or not successful(body) then
      failed = failed + 1
    end
  end
end

function done(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do
    c = c + (t:get("checked") or 0)
    f = f + (t:get("failed") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'OCSPBENCH {"requests":%d,"durationUs":%d,"bytes":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,'
      .. '"mean":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
      .. '"checked":%d,"failed":%d,"bodies":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.max), math.floor(latency.mean),
    e.connect, e.read, e.write, e.status, e.timeout, c, f, #bodies))
end
