-- Shared by get.lua and post-tools-call.lua: wrk calls done() once, after the run, and this
-- prints one machine-readable line that bench/http-bench.sh parses:
--
--   RESULT rps=… p50_ms=… p90_ms=… p99_ms=… max_ms=… reqs=… errors=… non2xx=…
--
-- errors  = socket errors: connect + read + write + timeout (wrk's default timeout is 2 s)
-- non2xx  = wrk's status error count, i.e. responses with status >= 400 (wrk does not count
--           1xx/3xx there; http-bench.sh's pre-flight check compares status and body instead)
-- Latencies come from wrk's histogram in microseconds and are printed in milliseconds.

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f reqs=%d errors=%d non2xx=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests,
    e.connect + e.read + e.write + e.timeout,
    e.status))
end
