-- wrk script: plain GET of the URL given on the command line, plus the RESULT line.
--   wrk -t1 -c50 -d10s --latency -s bench/wrk/get.lua http://127.0.0.1:18085/
local src = debug.getinfo(1, "S").source
local dir = (src:sub(1, 1) == "@" and src:sub(2):match("^(.*/)")) or "./"
dofile(dir .. "result.lua")

wrk.method = "GET"
