#!/usr/bin/env bash
# End-to-end check of the sidecar's /metrics against the real Prometheus tools.
#
#   tests/integration/prometheus/run.sh PATH/TO/mcp-sidecar
#
# Starts the test upstream (tests/support/upstream.mjs) and the sidecar on loopback ports chosen
# by the kernel, sends a known mix of requests through the sidecar, lints the scraped text with
# `promtool check metrics`, then runs a real Prometheus (temporary config and storage) scraping
# the admin port every second and checks, through its HTTP API, that the target is up and that
# what it stored matches what was sent. Exits 0 when every check holds; otherwise prints which
# check failed with the value seen, and exits 1 (2 for a usage error or a missing tool).
#
# Environment: MCP_SIDECAR_TEST_TIMEOUT_SCALE (positive number, default 1) stretches every wait,
# for sanitizer builds; MCP_SIDECAR_NODE names the node binary (default: node on PATH).
# Every process started here is stopped, and the temporary directory removed, on any exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly upstream_script="$here/../../support/upstream.mjs"

say() { echo "prometheus_scrape: $*"; }
fail() {
  echo "prometheus_scrape: FAIL: $*" >&2
  exit 1
}

if [ "$#" -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 PATH/TO/mcp-sidecar (got: '${1:-}')" >&2
  exit 2
fi
readonly sidecar_bin=$1
readonly node_bin=${MCP_SIDECAR_NODE:-node}

for tool in prometheus promtool curl "$node_bin"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in
      prometheus | promtool) echo "prometheus_scrape: '$tool' not found: apt-get install -y prometheus" >&2 ;;
      *) echo "prometheus_scrape: '$tool' not found" >&2 ;;
    esac
    exit 2
  fi
done

# Seconds to wait for `base` seconds of work, stretched by MCP_SIDECAR_TEST_TIMEOUT_SCALE.
scaled() {
  awk -v base="$1" -v scale="${MCP_SIDECAR_TEST_TIMEOUT_SCALE:-1}" \
    'BEGIN { if (scale + 0 <= 0) scale = 1; v = base * scale; printf "%d\n", (v == int(v)) ? v : int(v) + 1 }'
}

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-sidecar-prom.XXXXXX")
pids=()

# Stops every process started here (SIGTERM, then SIGKILL after 5 s) and reaps it, so that none
# is left behind whatever way the script ends.
cleanup() {
  local status=$? pid i
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    local log
    for log in upstream.err sidecar.err prometheus.log; do
      if [ -s "$work/$log" ]; then
        echo "--- last lines of $log ---" >&2
        tail -n 15 "$work/$log" >&2
      fi
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until FILE has a line matching the extended regex, at most SECONDS; fails if PID dies.
wait_for_line() {
  local file=$1 regex=$2 seconds=$3 pid=$4 what=$5 deadline
  deadline=$((SECONDS + seconds))
  until grep -Eq "$regex" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "$what exited before it was ready"
    [ "$SECONDS" -lt "$deadline" ] || fail "$what not ready after ${seconds}s"
    sleep 0.1
  done
}

# --- upstream and sidecar --------------------------------------------------------------------

"$node_bin" "$upstream_script" --port 0 >"$work/upstream.out" 2>"$work/upstream.err" &
pids+=($!)
wait_for_line "$work/upstream.out" '^listening [0-9]+$' "$(scaled 15)" "${pids[-1]}" "upstream"
upstream_port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$work/upstream.out")

# --max-body 1KiB so that a 4 KiB body is refused with 413 before reaching the upstream.
"$sidecar_bin" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
  --upstream "http://127.0.0.1:$upstream_port/mcp" --verify off --max-body 1KiB \
  --drain-timeout 5 --access-log false >/dev/null 2>"$work/sidecar.err" &
sidecar_pid=$!
pids+=("$sidecar_pid")
wait_for_line "$work/sidecar.err" '"msg":"listening"' "$(scaled 15)" "$sidecar_pid" "sidecar"
listen=$(grep -m1 '"msg":"listening"' "$work/sidecar.err" | sed -n 's/.*"listen":"\([^"]*\)".*/\1/p')
admin=$(grep -m1 '"msg":"listening"' "$work/sidecar.err" | sed -n 's/.*"admin":"\([^"]*\)".*/\1/p')
if [ -z "$listen" ] || [ -z "$admin" ]; then
  fail "no listen/admin address in the sidecar's 'listening' line"
fi
say "upstream 127.0.0.1:$upstream_port, sidecar listen $listen admin $admin"

# Counts of what this script sent through the listener, by status class.
sent_2xx=0
sent_4xx=0
sent_5xx=0

# Sends one request through the sidecar and checks its status. Args: EXPECTED_STATUS CURL_ARGS...
send() {
  local want=$1 got
  shift
  got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time "$(scaled 10)" -H 'Expect:' "$@") ||
    fail "curl $* failed (status '$got')"
  [ "$got" = "$want" ] || fail "request curl $* answered $got, expected $want"
  case "$want" in
    2??) sent_2xx=$((sent_2xx + 1)) ;;
    4??) sent_4xx=$((sent_4xx + 1)) ;;
    5??) sent_5xx=$((sent_5xx + 1)) ;;
  esac
}

# A mix of JSON-RPC POSTs, plain GETs, one refused body and one upstream 5xx answer.
sent_ping=0
send_batch() {
  local i
  for ((i = 1; i <= 3; i++)); do
    sent_ping=$((sent_ping + 1))
    send 200 -X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      --data "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"ping\",\"params\":{}}" "http://$listen/mcp"
  done
  send 200 "http://$listen/echo"
  send 200 "http://$listen/sse?events=3&interval=10"
  send 413 -X POST -H 'Content-Type: application/json' --data-binary "@$work/big-body" "http://$listen/mcp"
  send 503 "http://$listen/status?code=503"
}
head -c 4096 /dev/zero | tr '\0' 'x' >"$work/big-body"
send_batch
say "first batch sent: 2xx=$sent_2xx 4xx=$sent_4xx 5xx=$sent_5xx"

# --- promtool check metrics ------------------------------------------------------------------

curl -sS --max-time "$(scaled 10)" -o "$work/metrics.txt" "http://$admin/metrics" ||
  fail "GET http://$admin/metrics failed"
for family in mcp_sidecar_build_info mcp_sidecar_upstream_up mcp_sidecar_http_responses_total \
  mcp_sidecar_http_request_duration_seconds mcp_sidecar_requests_total \
  mcp_sidecar_request_duration_seconds mcp_sidecar_audit_records_total \
  mcp_sidecar_audit_write_errors_total mcp_sidecar_drift_events_total; do
  grep -q "^# TYPE $family " "$work/metrics.txt" || fail "/metrics has no '# TYPE $family' line"
done
if ! lint=$(promtool check metrics <"$work/metrics.txt" 2>&1); then
  fail "promtool check metrics reported problems in /metrics: $lint"
fi
[ -z "$lint" ] || fail "promtool check metrics printed: $lint"
say "promtool check metrics: no problems ($(grep -c '^mcp_sidecar_' "$work/metrics.txt") samples)"

# --- Prometheus ------------------------------------------------------------------------------

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mcp-sidecar
    static_configs:
      - targets: ['$admin']
EOF
promtool check config "$work/prometheus.yml" >/dev/null 2>&1 ||
  fail "promtool check config rejected the generated configuration"

# A free loopback port for Prometheus's own web listener: the kernel picks one, which is then
# released for Prometheus; if another process takes it in between, try again with a new one.
free_port() {
  "$node_bin" -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

prom_pid=
prom=
for attempt in 1 2 3; do
  prom="127.0.0.1:$(free_port)"
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="$prom" --log.level=info >"$work/prometheus.log" 2>&1 &
  prom_pid=$!
  pids+=("$prom_pid")
  deadline=$((SECONDS + $(scaled 20)))
  while kill -0 "$prom_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    curl -fsS --max-time 2 -o /dev/null "http://$prom/-/ready" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS --max-time 2 -o /dev/null "http://$prom/-/ready" 2>/dev/null && break
  if kill -0 "$prom_pid" 2>/dev/null; then fail "Prometheus on $prom not ready after $(scaled 20)s"; fi
  grep -q 'address already in use' "$work/prometheus.log" ||
    fail "Prometheus exited at start (attempt $attempt)"
  say "port of $prom taken meanwhile; trying another"
  [ "$attempt" -lt 3 ] || fail "Prometheus could not bind a free port in 3 attempts"
done
say "Prometheus $(prometheus --version 2>&1 | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p') ready on $prom"

# Prints a /api/v1/query answer (JSON on stdin) one line per sample: "{label="value",...} VALUE",
# or "empty" for no sample; exits 1 on an API error.
cat >"$work/print-result.js" <<'EOF'
let text = '';
process.stdin.on('data', (d) => (text += d));
process.stdin.on('end', () => {
  let answer;
  try {
    answer = JSON.parse(text);
  } catch (e) {
    console.log(`bad JSON: ${text}`);
    process.exit(1);
  }
  if (answer.status !== 'success') {
    console.log(`error: ${answer.error || text}`);
    process.exit(1);
  }
  const result = answer.data.result;
  if (answer.data.resultType === 'scalar') {
    console.log(result[1]);
    return;
  }
  if (result.length === 0) {
    console.log('empty');
    return;
  }
  for (const sample of result) {
    const labels = Object.entries(sample.metric).map(([k, v]) => `${k}="${v}"`).join(',');
    console.log(`{${labels}} ${sample.value[1]}`);
  }
});
EOF

# Runs an instant query through Prometheus's /api/v1/query and prints the result as above.
query() {
  curl -sS --max-time "$(scaled 10)" -G "http://$prom/api/v1/query" --data-urlencode "query=$1" |
    "$node_bin" "$work/print-result.js"
}

# The value of a query that must give exactly one sample, or "empty" / "error: ...".
query_value() {
  local out
  out=$(query "$1") || {
    echo "$out"
    return 0
  }
  if [ "$out" = "empty" ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
    printf '%s\n' "$out" | paste -sd ';' -
    return 0
  fi
  echo "${out##* }"
}

# Polls QUERY until it yields WANT or the deadline passes; prints the last value either way.
wait_for_value() {
  local expr=$1 want=$2 seconds=$3 deadline value
  deadline=$((SECONDS + seconds))
  while :; do
    value=$(query_value "$expr")
    [ "$value" = "$want" ] && break
    [ "$SECONDS" -lt "$deadline" ] || break
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "$value"
}

# The first scrape: the target is up.
up=$(wait_for_value 'up{job="mcp-sidecar"}' 1 "$(scaled 30)")
say "up{job=\"mcp-sidecar\"} = $up"
[ "$up" = 1 ] || fail "target $admin not up in Prometheus after $(scaled 30)s: up = '$up'"

# A second batch after the first scrape, so that rate() over the histogram sees an increase.
send_batch
say "second batch sent: totals 2xx=$sent_2xx 4xx=$sent_4xx 5xx=$sent_5xx"

responses_2xx=$(wait_for_value 'sum(mcp_sidecar_http_responses_total{code="2xx"})' "$sent_2xx" "$(scaled 30)")
say "sum(mcp_sidecar_http_responses_total{code=\"2xx\"}) = $responses_2xx (sent $sent_2xx)"
[ "$responses_2xx" = "$sent_2xx" ] ||
  fail "sum(mcp_sidecar_http_responses_total{code=\"2xx\"}) = '$responses_2xx', expected $sent_2xx"

# The MCP view of the same traffic: each JSON-RPC ping answered by the upstream, read as it
# passed, counted by method and outcome; the 413 was refused before any JSON-RPC was read.
pings=$(wait_for_value 'sum(mcp_sidecar_requests_total{method="ping",outcome="ok"})' "$sent_ping" "$(scaled 30)")
say "sum(mcp_sidecar_requests_total{method=\"ping\",outcome=\"ok\"}) = $pings (sent $sent_ping)"
[ "$pings" = "$sent_ping" ] ||
  fail "sum(mcp_sidecar_requests_total{method=\"ping\",outcome=\"ok\"}) = '$pings', expected $sent_ping"
timed=$(query_value 'sum(mcp_sidecar_request_duration_seconds_count{method="ping"})')
[ "$timed" = "$sent_ping" ] ||
  fail "sum(mcp_sidecar_request_duration_seconds_count{method=\"ping\"}) = '$timed', expected $sent_ping"
audited=$(query_value 'mcp_sidecar_audit_records_total')
[ -n "$audited" ] && [ "$audited" != empty ] && [ "${audited%%.*}" -ge 1 ] ||
  fail "mcp_sidecar_audit_records_total = '$audited', expected at least the start record"

responses_4xx=$(query_value 'sum(mcp_sidecar_http_responses_total{code="4xx"})')
say "sum(mcp_sidecar_http_responses_total{code=\"4xx\"}) = $responses_4xx (sent $sent_4xx)"
[ "$responses_4xx" = "$sent_4xx" ] ||
  fail "sum(mcp_sidecar_http_responses_total{code=\"4xx\"}) = '$responses_4xx', expected $sent_4xx"

responses_5xx=$(query_value 'sum(mcp_sidecar_http_responses_total{code="5xx"})')
say "sum(mcp_sidecar_http_responses_total{code=\"5xx\"}) = $responses_5xx (sent $sent_5xx)"
[ "$responses_5xx" = "$sent_5xx" ] ||
  fail "sum(mcp_sidecar_http_responses_total{code=\"5xx\"}) = '$responses_5xx', expected $sent_5xx"

build_info=$(query 'mcp_sidecar_build_info') || fail "query mcp_sidecar_build_info: $build_info"
say "mcp_sidecar_build_info: $build_info"
case "$build_info" in
  *$'\n'*) fail "mcp_sidecar_build_info has more than one series: $build_info" ;;
  *'version="'?*'"'*' 1') ;;
  *) fail "mcp_sidecar_build_info is not one series with a version label and value 1: '$build_info'" ;;
esac

upstream_up=$(query_value 'mcp_sidecar_upstream_up')
say "mcp_sidecar_upstream_up = $upstream_up"
[ "$upstream_up" = 1 ] || fail "mcp_sidecar_upstream_up = '$upstream_up', expected 1"

readonly p99_expr='histogram_quantile(0.99, sum by (le) (rate(mcp_sidecar_http_request_duration_seconds_bucket[1m])))'
p99=$(query_value "$p99_expr")
say "$p99_expr = $p99"
[[ "$p99" =~ ^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] ||
  fail "$p99_expr is not a finite number: '$p99'"

# --- shutdown --------------------------------------------------------------------------------

# Waits up to SECONDS for PID to exit and reaps it, setting exit_status to its status, or to
# "running" if it is still running then. Runs in this shell (a subshell cannot reap our children).
wait_exit() {
  local pid=$1 seconds=$2 deadline kept=() p
  deadline=$((SECONDS + seconds))
  exit_status=running
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 0
    sleep 0.1
  done
  exit_status=0
  wait "$pid" || exit_status=$?
  for p in "${pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}

# The sidecar must still be running (no crash under scraping) and stop cleanly on SIGTERM.
kill -0 "$sidecar_pid" 2>/dev/null || fail "the sidecar exited during the test"
kill -TERM "$prom_pid"
wait_exit "$prom_pid" "$(scaled 15)"
kill -TERM "$sidecar_pid"
wait_exit "$sidecar_pid" "$(scaled 15)"
[ "$exit_status" = 0 ] ||
  fail "the sidecar's exit status after SIGTERM is '$exit_status', expected 0"

say "PASS"
