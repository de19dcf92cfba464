-- wrk script: request, in turn, every path listed in the file named by the PATHS environment
-- variable (one path per line), so that a run covers a fixed, varied set of requests.
local paths = {}
local i = 0

init = function(args)
  local file = assert(io.open(os.getenv("PATHS"), "r"))
  for line in file:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  file:close()
  -- Each thread starts at its own offset so the threads do not move in lockstep.
  i = math.random(#paths) - 1
end

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

-- Count non-2xx/3xx answers as errors in the summary.
response = function(status, headers, body)
  if status >= 400 then
    wrk.thread:set("errors", (wrk.thread:get("errors") or 0) + 1)
  end
end
