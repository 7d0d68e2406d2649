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
#        RESULTS_DIR=<repo>/bench/results    where the Markdown report goes
# needs: nginx, wrk, taskset, curl, pgrep, python3 (checked; nothing is installed by this script)
# ports: 127.0.0.1:18080 nginx proxy, :18081 upstream, :18085 sidecar, :18086 sidecar admin
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)

case "${1:-}" in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 1 ] || { echo "usage: $0 [WORK_DIR]" >&2; exit 2; }

RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-50}
TOPOS=${TOPOS:-"C E"}
METHODS=${METHODS:-"GET POST"}
SIDECAR=${SIDECAR:-$REPO/build/mcp-sidecar}
SIDECAR_EXTRA_ARGS=${SIDECAR_EXTRA_ARGS:-}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}

UP_PORT=18081 NGINX_PORT=18080 SIDECAR_PORT=18085 ADMIN_PORT=18086
READY_SECS=20   # how long a server may take to answer after start
BODY_FILE=$BENCH/wrk/tools-call-300.json

say() { echo "# $*"; }
die() { echo "http-bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------- arguments and requirements
secs_of() { # wrk duration (N, Ns, Nm, Nh) -> whole seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer (got '$CONNS')"
for d in "$DURATION" "$WARMUP"; do
  [[ $d =~ ^[0-9]+[smh]?$ ]] || die "DURATION/WARMUP must look like 10, 10s, 1m (got '$d')"
done
DUR_S=$(secs_of "$DURATION")
WARM_S=$(secs_of "$WARMUP")
[ "$DUR_S" -gt 0 ] || die "DURATION must be at least 1s"
for t in $TOPOS; do [[ $t == [CE] ]] || die "TOPOS may contain C and E (got '$t')"; done
for m in $METHODS; do [[ $m == GET || $m == POST ]] || die "METHODS may contain GET and POST (got '$m')"; done
[ "$SERVER_CPU" != "$LOAD_CPU" ] || die "SERVER_CPU and LOAD_CPU must differ"
for c in "$SERVER_CPU" "$LOAD_CPU"; do
  grep -q "^cpu$c " /proc/stat || die "cpu$c is not online (this benchmark needs 2 cores; see SERVER_CPU/LOAD_CPU)"
done

missing=()
NGINX=$(command -v nginx || true)
for p in /usr/sbin/nginx /usr/local/sbin/nginx; do [ -n "$NGINX" ] || [ ! -x "$p" ] || NGINX=$p; done
[ -n "$NGINX" ] || missing+=("nginx    -> apt-get install -y nginx-light")
command -v wrk >/dev/null || missing+=("wrk      -> apt-get install -y wrk")
command -v taskset >/dev/null || missing+=("taskset  -> apt-get install -y util-linux")
command -v pgrep >/dev/null || missing+=("pgrep    -> apt-get install -y procps")
command -v curl >/dev/null || missing+=("curl     -> apt-get install -y curl")
command -v python3 >/dev/null || missing+=("python3  -> apt-get install -y python3")
command -v timeout >/dev/null || missing+=("timeout  -> apt-get install -y coreutils")
if [ "$SIDECAR" != none ] && [ ! -x "$SIDECAR" ]; then
  missing+=("mcp-sidecar ($SIDECAR) -> build it: cd $REPO && cmake -S . -B build && cmake --build build -j
             (or SIDECAR=/path/to/mcp-sidecar, or SIDECAR=none to measure nginx alone)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "http-bench: missing requirements:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  echo "  (on Debian 12, all tools at once: apt-get install -y nginx-light wrk curl procps python3)" >&2
  exit 1
fi
[ "$SIDECAR" = none ] || SIDECAR=$(cd "$(dirname "$SIDECAR")" && pwd)/$(basename "$SIDECAR")
read -r -a SIDECAR_EXTRA <<<"$SIDECAR_EXTRA_ARGS"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=("$UP_PORT" "$NGINX_PORT")
[ "$SIDECAR" = none ] || ports+=("$SIDECAR_PORT" "$ADMIN_PORT")
for p in "${ports[@]}"; do
  ! port_busy "$p" || die "127.0.0.1:$p is already in use; stop whatever listens there first"
done

WORK=${1:-$(mktemp -d --tmpdir mcp-sidecar-http-bench.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd) # nginx -p needs an absolute prefix
chmod 755 "$WORK"         # nginx workers run as nobody when started by root
RAW=$WORK/raw.txt META=$WORK/meta.txt
: >"$RAW"
: >"$META"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo norev)

# ---------------------------------------------------------------- processes and cleanup
PIDS=() # every server this script started
WRK_PID=""
UP_PID="" NGINX_PID="" SIDECAR_PID=""

cleanup() {
  local rc=$? pid _ alive
  trap - EXIT INT TERM
  [ -z "$WRK_PID" ] || kill -TERM "$WRK_PID" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do # up to 5 s for a clean exit
    alive=0
    for pid in "${PIDS[@]}"; do ! kill -0 "$pid" 2>/dev/null || alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "http-bench: pid $pid did not stop on TERM; killing it" >&2
      for c in $(pgrep -P "$pid" || true); do kill -KILL "$c" 2>/dev/null || true; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "http-bench: interrupted" >&2; exit 130' INT
trap 'echo "http-bench: terminated" >&2; exit 143' TERM

# Every thread of the process and of its children (nginx workers) goes to cpu $1.
pin() {
  local cpu=$1 pid c
  shift
  for pid in "$@"; do
    taskset -a -p -c "$cpu" "$pid" >/dev/null
    for c in $(pgrep -P "$pid" || true); do taskset -a -p -c "$cpu" "$c" >/dev/null; done
  done
}

http_code() { # URL [curl args...] -> status code, 000 when nothing answers
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null || true
}

# Inodes of the listening TCP sockets on port $1, any local address, IPv4 and IPv6.
listen_inodes() {
  awk -v hex="$(printf '%04X' "$1")" '$4 == "0A" { n = split($2, a, ":"); if (a[n] == hex) print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null || true
}
# Socket inodes held by process $1 and its children.
sock_inodes() {
  local p f kids=()
  read -r -a kids <<<"$(pgrep -P "$1" | tr '\n' ' ' || true)"
  for p in "$1" ${kids[@]+"${kids[@]}"}; do
    for f in /proc/"$p"/fd/*; do readlink "$f" 2>/dev/null || true; done
  done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p'
}
# Who listens on port $2: "ours" (process $1 or its children), "none" or "foreign". Answers
# from a port held by someone else (a second benchmark started at the same moment) must not be
# taken for our server's.
port_state() {
  local ins mine i
  ins=$(listen_inodes "$2")
  [ -n "$ins" ] || { echo none; return; }
  mine=" $(sock_inodes "$1" | tr '\n' ' ') "
  for i in $ins; do
    case $mine in *" $i "*) ;; *) echo foreign; return ;; esac
  done
  echo ours
}

wait_ready() { # NAME PID "PORTS" URL...: until PID holds PORTS and one URL answers 200
  local name=$1 pid=$2 want=$3 _ u p owned
  shift 3
  for _ in $(seq 1 $((READY_SECS * 10))); do
    kill -0 "$pid" 2>/dev/null || return 1
    owned=1
    for p in $want; do
      case $(port_state "$pid" "$p") in
        foreign)
          echo "http-bench: another process listens on port $p (not the $name this script started); stop it first" >&2
          return 1
          ;;
        none) owned=0 ;;
      esac
    done
    if [ "$owned" = 1 ]; then
      for u in "$@"; do
        if [ "$(http_code "$u")" = 200 ]; then
          READY_VIA=$u
          return 0
        fi
      done
    fi
    sleep 0.1
  done
  echo "http-bench: $name did not answer 200 within ${READY_SECS}s on: $*" >&2
  return 1
}

start_nginx() { # NAME CONF CPU -> LAST_PID
  local dir=$WORK/$1
  mkdir -p "$dir/logs"
  taskset -c "$3" "$NGINX" -p "$dir/" -e "$dir/logs/error.log" -c "$BENCH/nginx/$2" \
    -g 'daemon off;' >"$dir/logs/stdout.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

server_failed() { # NAME LOG
  echo "http-bench: $1 failed to start; last lines of $2:" >&2
  tail -n 20 "$2" >&2 || true
  exit 1
}

# ---------------------------------------------------------------- measurement
# /proc/stat ticks of both cpus: "server_total server_idle server_steal load_total load_idle"
# busy = everything but idle and iowait (steal counts as busy; it is reported separately).
ticks() {
  awk -v s="cpu$SERVER_CPU" -v l="cpu$LOAD_CPU" '
    $1 == s || $1 == l { t = 0; for (i = 2; i <= 9; i++) t += $i
                         tot[$1] = t; idle[$1] = $5 + $6; steal[$1] = $9 }
    END { printf "%d %d %d %d %d\n", tot[s], idle[s], steal[s], tot[l], idle[l] }' /proc/stat
}
busy_fields() { # "before" "after" -> server_busy=.. load_busy=.. steal=..
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    ds = y[1] - x[1]; dl = y[4] - x[4]; if (ds <= 0) ds = 1; if (dl <= 0) dl = 1
    printf "server_busy=%.1f load_busy=%.1f steal=%.1f",
      100 * (ds - (y[2] - x[2])) / ds, 100 * (dl - (y[5] - x[5])) / dl, 100 * (y[3] - x[3]) / ds }'
}

url_of() { # TARGET METHOD
  local port=$NGINX_PORT
  [ "$1" = sidecar ] && port=$SIDECAR_PORT
  [ "$1" = upstream ] && port=$UP_PORT
  if [ "$2" = GET ]; then echo "http://127.0.0.1:$port/"; else echo "http://127.0.0.1:$port/mcp"; fi
}
script_of() { if [ "$1" = GET ]; then echo "$BENCH/wrk/get.lua"; else echo "$BENCH/wrk/post-tools-call.lua"; fi; }
pid_of() { if [ "$1" = sidecar ]; then echo "$SIDECAR_PID"; else echo "$NGINX_PID"; fi; }

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
  timeout -k 5 $((secs + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" "$@" \
    -s "$(script_of "$method")" "$(url_of "$target" "$method")" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || true
  WRK_PID=""
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
CELLS=0
for _ in $TOPOS; do for _ in $METHODS; do CELLS=$((CELLS + 1)); done; done
EST=$((CELLS * ${#TARGETS[@]} * (WARM_S + RUNS * DUR_S) + CELLS * RUNS + 5))
say "mcp-sidecar http-bench: work dir $WORK"
say "targets: ${TARGETS[*]}; topologies: $TOPOS; methods: $METHODS; runs=$RUNS x $DURATION (+${WARMUP} warm-up)"
say "expected duration: about $((EST / 60)) min $((EST % 60)) s"

# Both cpus should be idle before anything starts: other work on them skews every number (the
# ratios less so, since the runs are interleaved). Measured over 1 s and recorded in the report.
t0=$(ticks)
sleep 1
IDLE_CHECK=$(busy_fields "$t0" "$(ticks)")
IDLE_CHECK=${IDLE_CHECK% steal=*}
if awk -v l="$IDLE_CHECK" 'BEGIN { n = split(l, f, /[= ]/); for (i = 2; i <= n; i += 2) if (f[i] + 0 > 10) exit 0; exit 1 }'; then
  say "WARNING: the machine is not idle before the benchmark ($IDLE_CHECK over 1 s): expect noisy numbers"
  IDLE_CHECK+=" (NOT IDLE)"
fi

start_nginx upstream upstream.conf "$LOAD_CPU"
UP_PID=$LAST_PID
wait_ready upstream "$UP_PID" "$UP_PORT" "$(url_of upstream GET)" || server_failed upstream "$WORK/upstream/logs/error.log"
start_nginx nginx-proxy proxy.conf "$LOAD_CPU"
NGINX_PID=$LAST_PID
wait_ready "nginx proxy" "$NGINX_PID" "$NGINX_PORT" "$(url_of nginx GET)" || server_failed "nginx proxy" "$WORK/nginx-proxy/logs/error.log"

SIDECAR_CMD=()
SIDECAR_READY="-"
SIDECAR_VERSION="-"
if [ "$SIDECAR" != none ]; then
  mkdir -p "$WORK/sidecar"
  SIDECAR_VERSION=$(cd "$WORK/sidecar" && { timeout 5 "$SIDECAR" --version 2>&1 || true; } | head -n 3 | paste -sd ' ' -)
  SIDECAR_CMD=("$SIDECAR" serve --listen "127.0.0.1:$SIDECAR_PORT" --admin "127.0.0.1:$ADMIN_PORT"
    --upstream "http://127.0.0.1:$UP_PORT" --verify off --workers 1 --log-level warn
    ${SIDECAR_EXTRA[@]+"${SIDECAR_EXTRA[@]}"})
  # Its working directory is inside WORK, so its default ./.mcp-sidecar state lands there; no
  # AIM platform is contacted, whatever the caller's environment says.
  (cd "$WORK/sidecar" && exec env -u AIM_URL -u AIM_API_KEY taskset -c "$LOAD_CPU" "${SIDECAR_CMD[@]}") \
    >"$WORK/sidecar/sidecar.log" 2>&1 &
  SIDECAR_PID=$!
  PIDS+=("$SIDECAR_PID")
  wait_ready mcp-sidecar "$SIDECAR_PID" "$SIDECAR_PORT $ADMIN_PORT" "http://127.0.0.1:$ADMIN_PORT/readyz" "$(url_of sidecar GET)" ||
    server_failed mcp-sidecar "$WORK/sidecar/sidecar.log"
  SIDECAR_READY=$READY_VIA
fi

# ---------------------------------------------------------------- record machine and versions
meta() { printf '%s=%s\n' "$1" "$2" >>"$META"; }
cmdline=""
for v in RUNS DURATION WARMUP CONNS TOPOS METHODS SIDECAR SIDECAR_EXTRA_ARGS SERVER_CPU LOAD_CPU; do
  cmdline+="$v=$(printf '%q' "${!v}") "
done
cmdline+="bench/http-bench.sh"
[ $# -eq 0 ] || cmdline+=" $(printf '%q' "$1")"
meta date_utc "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
meta git_rev "$REV"
meta git_dirty "$(if [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null | grep -v ' bench/results/' || true)" ]; then echo yes; else echo no; fi)"
meta command "$cmdline"
meta cpu_model "$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
meta cores "$(nproc)"
meta kernel "$(uname -r)"
meta debian "$(cat /etc/debian_version 2>/dev/null || echo '?')"
meta os "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
meta memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
meta virtualization "$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n 1)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta idle_check "$IDLE_CHECK"
meta nginx "$("$NGINX" -v 2>&1 | head -n 1)"
meta wrk "$(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//')"
meta gcc "$(gcc --version 2>/dev/null | head -n 1 || echo 'not found')"
meta libuv "$(pkg-config --modversion libuv 2>/dev/null || echo 'not found (pkg-config libuv)')"
meta sidecar_path "$SIDECAR"
meta sidecar_version "$SIDECAR_VERSION"
if [ "$SIDECAR" != none ]; then
  meta sidecar_sha256 "$(sha256sum "$SIDECAR" | cut -c1-16)"
  meta sidecar_build_type "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$SIDECAR")/CMakeCache.txt" 2>/dev/null || true)"
  meta sidecar_cmd "taskset -c $SERVER_CPU $(printf '%q ' "${SIDECAR_CMD[@]}")"
  meta sidecar_ready "$SIDECAR_READY"
fi
meta runs "$RUNS"
meta duration "$DURATION"
meta warmup "$WARMUP"
meta conns "$CONNS"
meta server_cpu "$SERVER_CPU"
meta load_cpu "$LOAD_CPU"
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
[ -z "$ABORT" ] || echo "http-bench: ABORTED: $ABORT" >&2

# ---------------------------------------------------------------- report
meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta aborted "$ABORT"
if [ "$SIDECAR" != none ]; then
  meta sidecar_log "$WORK/sidecar/sidecar.log"
  meta sidecar_state_size "$(du -sh "$WORK/sidecar" 2>/dev/null | cut -f1)"
fi
meta nginx_logs "$WORK/upstream/logs/error.log $WORK/nginx-proxy/logs/error.log"
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/http-$STAMP-$REV.md
python3 "$BENCH/summarize.py" "$META" "$RAW" >"$REPORT"
say "report: $REPORT"
say "raw runs and logs: $WORK"
[ -z "$ABORT" ] || exit 1
