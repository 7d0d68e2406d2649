-- wrk script: POST an MCP-shaped JSON-RPC tools/call of exactly 300 bytes (no session, no
-- signature) to the URL given on the command line, plus the RESULT line.
--   wrk -t1 -c50 -d10s --latency -s bench/wrk/post-tools-call.lua http://127.0.0.1:18085/mcp
-- The body is bench/wrk/tools-call-300.json, the same file http-bench.sh's pre-flight check
-- sends with curl; MCP_BENCH_BODY=FILE sends another file instead.
local src = debug.getinfo(1, "S").source
local dir = (src:sub(1, 1) == "@" and src:sub(2):match("^(.*/)")) or "./"
dofile(dir .. "result.lua")

local path = os.getenv("MCP_BENCH_BODY") or (dir .. "tools-call-300.json")
local f = assert(io.open(path, "rb"))
local body = f:read("*a"):gsub("%s+$", "")   -- an editor's trailing newline is not part of it
f:close()
if not os.getenv("MCP_BENCH_BODY") then
  assert(#body == 300, path .. ": expected 300 bytes, got " .. #body)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
