#!/usr/bin/env bash
# http-bench.sh - mcp-sidecar's plain HTTP pass-through beside nginx proxy_pass, in one run.
#
# Both proxies sit in front of the same trivial nginx upstream (fixed 200-byte JSON answer) and
# are driven by wrk with GET / and a 300-byte JSON-RPC tools/call POST to /mcp. Runs of the two
# proxies are interleaved (nginx, sidecar, nginx, sidecar, ...) so that drift of the machine hits
# both alike; compare the ratios sidecar/nginx, not absolute numbers across machines.
#
#   Topology C  proxy under test alone on the server cpu; upstream and wrk share the load cpu
#               (the proxy's own ceiling and its CPU cost per request)
#   Topology E  proxy and upstream together on the server cpu; wrk alone on the load cpu
#               (what one server core delivers with the proxy in the path)
#   The proxy not being measured stays parked, idle, on the load cpu.
#
# usage: bench/http-bench.sh [WORK_DIR]      (WORK_DIR: logs and nginx prefixes; default mktemp)
# env:   RUNS=5 DURATION=10s WARMUP=2s CONNS=50 TOPOS="C E" METHODS="GET POST"
#        SIDECAR=<repo>/build/mcp-sidecar    path of the binary; SIDECAR=none measures nginx only
#        SIDECAR_EXTRA_ARGS="..."            more flags for `mcp-sidecar serve` (word-split)
#        SERVER_CPU=0 LOAD_CPU=1             the two cpus used
#        OBSERVE_COST=1                      also run a second sidecar with --observe false
#                                            (target sidecar-plain), to measure what MCP
#                                            awareness, audit and metrics cost per request
#        RESULTS_DIR=<repo>/bench/results    where the Markdown report goes
# needs: nginx, wrk, taskset, curl, pgrep, python3 (checked; nothing is installed by this script)
# ports: 127.0.0.1:18080 nginx proxy, :18081 upstream, :18085 sidecar, :18086 sidecar admin,
#        :18087 sidecar-plain, :18088 its admin
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
# RUNS DURATION WARMUP CONNS SERVER_CPU LOAD_CPU RESULTS_DIR SIDECAR, REPO, READY_SECS, UP_PORT:
bench_init http-bench "$@"
NGINX_PORT=18080 SIDECAR_PORT=18085 ADMIN_PORT=18086 PLAIN_PORT=18087 PLAIN_ADMIN_PORT=18088
OBSERVE_COST=${OBSERVE_COST:-0}
BODY_FILE=$BENCH/wrk/tools-call-300.json

TOPOS=${TOPOS:-"C E"}
METHODS=${METHODS:-"GET POST"}
SIDECAR_EXTRA_ARGS=${SIDECAR_EXTRA_ARGS:-}

# ---------------------------------------------------------------- arguments and requirements
posint RUNS "$RUNS"
posint CONNS "$CONNS"
durations DURATION/WARMUP "$DURATION" "$WARMUP"
DUR_S=$(secs_of "$DURATION")
WARM_S=$(secs_of "$WARMUP")
[ "$DUR_S" -gt 0 ] || die "DURATION must be at least 1s"
for t in $TOPOS; do [[ $t == [CE] ]] || die "TOPOS may contain C and E (got '$t')"; done
for m in $METHODS; do [[ $m == GET || $m == POST ]] || die "METHODS may contain GET and POST (got '$m')"; done
check_cpus

missing=()
find_nginx
command -v wrk >/dev/null || missing+=("wrk      -> apt-get install -y wrk")
need_tools
if [ "$SIDECAR" != none ] && [ ! -x "$SIDECAR" ]; then
  missing+=("mcp-sidecar ($SIDECAR) -> build it: cd $REPO && cmake -S . -B build && cmake --build build -j
             (or SIDECAR=/path/to/mcp-sidecar, or SIDECAR=none to measure nginx alone)")
fi
missing_exit "  (on Debian 12, all tools at once: apt-get install -y nginx-light wrk curl procps python3)"
[ "$SIDECAR" = none ] || SIDECAR=$(abspath "$SIDECAR")
read -r -a SIDECAR_EXTRA <<<"$SIDECAR_EXTRA_ARGS"

ports=("$UP_PORT" "$NGINX_PORT")
[ "$SIDECAR" = none ] || ports+=("$SIDECAR_PORT" "$ADMIN_PORT")
[ "$OBSERVE_COST" != 1 ] || ports+=("$PLAIN_PORT" "$PLAIN_ADMIN_PORT")
ports_free "${ports[@]}"

WORK=${1:-$(mktemp -d --tmpdir mcp-sidecar-http-bench.XXXXXX)}
init_work

# ---------------------------------------------------------------- processes and cleanup
PIDS=()      # every server this script started
CHILD_PID="" # wrk, while it runs
UP_PID="" NGINX_PID="" SIDECAR_PID="" PLAIN_PID=""
set_traps

# ---------------------------------------------------------------- measurement
url_of() { # TARGET METHOD
  local port=$NGINX_PORT
  [ "$1" = sidecar ] && port=$SIDECAR_PORT
  [ "$1" = sidecar-plain ] && port=$PLAIN_PORT
  [ "$1" = upstream ] && port=$UP_PORT
  if [ "$2" = GET ]; then echo "http://127.0.0.1:$port/"; else echo "http://127.0.0.1:$port/mcp"; fi
}
script_of() { if [ "$1" = GET ]; then echo "$BENCH/wrk/get.lua"; else echo "$BENCH/wrk/post-tools-call.lua"; fi; }
pid_of() {
  case $1 in
  sidecar) echo "$SIDECAR_PID" ;;
  sidecar-plain) echo "$PLAIN_PID" ;;
  *) echo "$NGINX_PID" ;;
  esac
}

# The proxy under test to the server cpu, every other proxy parked on the load cpu.
place() {
  local t
  for t in "${TARGETS[@]}"; do
    if [ "$t" = "$1" ]; then pin "$SERVER_CPU" "$(pid_of "$t")"; else pin "$LOAD_CPU" "$(pid_of "$t")"; fi
  done
}

run_wrk() { # SECONDS METHOD TARGET OUTFILE [--latency]: bounded, killable from the traps
  local secs=$1 method=$2 target=$3 out=$4
  shift 4
  run_child "$out" timeout -k 5 $((secs + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" "$@" \
    -s "$(script_of "$method")" "$(url_of "$target" "$method")"
}

measure() { # TOPO METHOD TARGET RUN
  local out=$WORK/wrk-$1-$2-$3-run$4.txt s0 s1 res line
  place "$3"
  s0=$(ticks)
  run_wrk "$DUR_S" "$2" "$3" "$out" --latency
  s1=$(ticks)
  res=$(grep -m1 '^RESULT ' "$out" || true)
  if [ -z "$res" ]; then # wrk failed before done() ran: a flagged, empty result
    res="RESULT rps=0 p50_ms=0 p90_ms=0 p99_ms=0 max_ms=0 reqs=0 errors=-1 non2xx=-1"
  fi
  line="RUN topo=$1 method=$2 target=$3 run=$4 ${res#RESULT } $(busy_fields "$s0" "$s1")"
  echo "$line" | tee -a "$RAW"
  if [[ ! $line =~ \ errors=0\  ]] || [[ ! $line =~ \ non2xx=0\  ]]; then
    say "WARNING: $3 $1 $2 run $4 had errors or non-2xx answers (see $out)"
  fi
}

alive() { kill -0 "$(pid_of "$1")" 2>/dev/null; }

# ---------------------------------------------------------------- start servers
TARGETS=(nginx)
[ "$SIDECAR" = none ] || TARGETS+=(sidecar)
[ "$SIDECAR" = none ] || [ "$OBSERVE_COST" != 1 ] || TARGETS+=(sidecar-plain)
CELLS=0
for _ in $TOPOS; do for _ in $METHODS; do CELLS=$((CELLS + 1)); done; done
EST=$((CELLS * ${#TARGETS[@]} * (WARM_S + RUNS * DUR_S) + CELLS * RUNS + 5))
say_start "$EST" "targets: ${TARGETS[*]}; topologies: $TOPOS; methods: $METHODS; runs=$RUNS x $DURATION (+${WARMUP} warm-up)"

# (Idle cpus matter less for the ratios, since the runs are interleaved.)
check_idle

start_upstream "$LOAD_CPU"
start_nginx nginx-proxy proxy.conf "$LOAD_CPU"
NGINX_PID=$LAST_PID
wait_ready "nginx proxy" "$NGINX_PID" "$NGINX_PORT" "$(url_of nginx GET)" || server_failed "nginx proxy" "$WORK/nginx-proxy/logs/error.log"

SIDECAR_CMD=()
SIDECAR_READY="-"
SIDECAR_VERSION="-"
if [ "$SIDECAR" != none ]; then
  mkdir -p "$WORK/sidecar"
  SIDECAR_VERSION=$(sidecar_version "$SIDECAR" "$WORK/sidecar")
  SIDECAR_CMD=("$SIDECAR" serve --listen "127.0.0.1:$SIDECAR_PORT" --admin "127.0.0.1:$ADMIN_PORT"
    --upstream "http://127.0.0.1:$UP_PORT" --verify off --workers 1 --log-level warn
    ${SIDECAR_EXTRA[@]+"${SIDECAR_EXTRA[@]}"})
  : >"$WORK/sidecar/sidecar.log" # a fresh log (start_sidecar appends)
  start_sidecar "$WORK/sidecar" "$WORK/sidecar/sidecar.log" taskset -c "$LOAD_CPU" "${SIDECAR_CMD[@]}"
  SIDECAR_PID=$LAST_PID
  wait_ready mcp-sidecar "$SIDECAR_PID" "$SIDECAR_PORT $ADMIN_PORT" "http://127.0.0.1:$ADMIN_PORT/readyz" "$(url_of sidecar GET)" ||
    server_failed mcp-sidecar "$WORK/sidecar/sidecar.log"
  SIDECAR_READY=$READY_VIA
  if [ "$OBSERVE_COST" = 1 ]; then
    mkdir -p "$WORK/sidecar-plain"
    : >"$WORK/sidecar-plain/sidecar.log"
    start_sidecar "$WORK/sidecar-plain" "$WORK/sidecar-plain/sidecar.log" taskset -c "$LOAD_CPU" \
      "$SIDECAR" serve --listen "127.0.0.1:$PLAIN_PORT" --admin "127.0.0.1:$PLAIN_ADMIN_PORT" \
      --upstream "http://127.0.0.1:$UP_PORT" --verify off --workers 1 --log-level warn --observe false \
      ${SIDECAR_EXTRA[@]+"${SIDECAR_EXTRA[@]}"}
    PLAIN_PID=$LAST_PID
    wait_ready "mcp-sidecar --observe false" "$PLAIN_PID" "$PLAIN_PORT $PLAIN_ADMIN_PORT" \
      "http://127.0.0.1:$PLAIN_ADMIN_PORT/readyz" "$(url_of sidecar-plain GET)" ||
      server_failed "mcp-sidecar --observe false" "$WORK/sidecar-plain/sidecar.log"
  fi
fi

# ---------------------------------------------------------------- record machine and versions
meta_facts date_utc git_rev git_dirty
meta command "$(command_line bench/http-bench.sh "RUNS DURATION WARMUP CONNS TOPOS METHODS SIDECAR SIDECAR_EXTRA_ARGS SERVER_CPU LOAD_CPU" "$@")"
meta_facts cpu_model cores kernel debian os memory virtualization loadavg_start idle_check nginx
meta wrk "$(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
meta_facts gcc
meta libuv "$(pkg-config --modversion libuv 2>/dev/null || echo 'not found (pkg-config libuv)')"
meta_sidecar "$SIDECAR" "$SIDECAR_VERSION"
if [ "$SIDECAR" != none ]; then
  meta sidecar_cmd "taskset -c $SERVER_CPU $(printf '%q ' "${SIDECAR_CMD[@]}")"
  meta sidecar_ready "$SIDECAR_READY"
fi
meta_vars RUNS DURATION WARMUP CONNS SERVER_CPU LOAD_CPU OBSERVE_COST
meta work_dir "$WORK"
cat "$META"

# ---------------------------------------------------------------- pre-flight
# One request of each kind through each target, compared with the upstream's own answer: a proxy
# that answers anything else would be measuring some other path (an error page, a rejection).
preflight() { # TARGET METHOD
  local f=$WORK/preflight-$1-$2.body code args=()
  [ "$2" = POST ] && args=(-X POST -H 'Content-Type: application/json'
    -H 'Accept: application/json, text/event-stream' --data-binary "@$BODY_FILE")
  code=$(curl -s -o "$f" -w '%{http_code}' --max-time 5 ${args[@]+"${args[@]}"} "$(url_of "$1" "$2")" || true)
  local same=differs
  cmp -s "$f" "$WORK/preflight-upstream-$2.body" && same=same
  echo "PREFLIGHT target=$1 method=$2 status=${code:-000} bytes=$(wc -c <"$f" 2>/dev/null || echo 0) body=$same" | tee -a "$RAW"
}
for m in $METHODS; do
  preflight upstream "$m"
  for t in "${TARGETS[@]}"; do preflight "$t" "$m"; done
done
[ "$(wc -c <"$WORK/preflight-upstream-${METHODS%% *}.body")" = 200 ] || say "WARNING: the upstream's body is not 200 bytes"

# ---------------------------------------------------------------- the runs
ABORT=""
for topo in $TOPOS; do
  [ -z "$ABORT" ] || break
  if [ "$topo" = C ]; then pin "$LOAD_CPU" "$UP_PID"; else pin "$SERVER_CPU" "$UP_PID"; fi
  for method in $METHODS; do
    [ -z "$ABORT" ] || break
    say "topology $topo, $method: warm-up $WARMUP per target, then $RUNS x $DURATION per target, interleaved"
    for t in "${TARGETS[@]}"; do
      place "$t"
      [ "$WARM_S" = 0 ] || run_wrk "$WARM_S" "$method" "$t" /dev/null
    done
    for run in $(seq 1 "$RUNS"); do
      for t in "${TARGETS[@]}"; do
        if ! alive "$t"; then
          ABORT="$t exited before topology $topo $method run $run"
          break 2
        fi
        measure "$topo" "$method" "$t" "$run"
      done
    done
  done
done
for t in "${TARGETS[@]}"; do alive "$t" || ABORT=${ABORT:-"$t exited during the last run"}; done

# ---------------------------------------------------------------- report
meta_end
if [ "$SIDECAR" != none ]; then
  meta sidecar_log "$WORK/sidecar/sidecar.log"
  meta sidecar_state_size "$(du -sh "$WORK/sidecar" 2>/dev/null | cut -f1)"
fi
meta nginx_logs "$WORK/upstream/logs/error.log $WORK/nginx-proxy/logs/error.log"
write_report http summarize.py
