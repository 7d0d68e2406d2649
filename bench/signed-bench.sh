#!/usr/bin/env bash
# signed-bench.sh - what verifying Ed25519-signed requests costs mcp-sidecar, in one run: signed
# against unsigned traffic through the same binary, beside the Ed25519 verify ceiling measured on
# the same core.
#
# Two sidecars sit in front of the trivial nginx upstream (bench/nginx/upstream.conf): one with
# --verify off (unsigned load), one with --verify enforce and a trust store holding the caller key
# made for this run (signed load, every request with its own nonce, signed before the clock
# starts by bench/signed-load's mcp-sidecar-load). Per round, interleaved:
#   (a) closed loop, unsigned, through --verify off       (b) closed loop, signed, through enforce
#   (d) open loop at OPEN_RATE req/s, unsigned then signed (latency from each scheduled send time)
#   (c) mcp-sidecar-ed25519-bench: µs per libsodium verify (the ceiling) on the server cpu
# Target (the issue's): signed req/s >= 90 % of cores / (verify time + pass-through time), where
# pass-through time = 1 / unsigned req/s per core, from (a) in the 1-core variant.
#
#   Variant 1core  sidecar (--workers 1) + upstream on SERVER_CPU, load generator on LOAD_CPU;
#                  the sidecar not being measured is parked, idle, on LOAD_CPU. The target is
#                  judged on this variant.
#   Variant 2core  sidecar --workers $WORKERS, upstream and load generator unpinned: all share
#                  both cpus, so the generator takes cpu from the sidecar (shown, not judged).
#
# usage: bench/signed-bench.sh [WORK_DIR]      (WORK_DIR: logs, keys, raw output; default mktemp)
# env:   RUNS=5 DURATION=10s WARMUP=2s CONNS=50 VARIANTS="1core 2core" WORKERS=2
#        OPEN_RATE=1000 OPEN_DURATION=10s OPEN_CONNS=32
#        PRESIGN_RATE=40000        signed requests built per second of a closed-loop run
#        REPLAY_CAPACITY=8388608   --replay-capacity of the enforcing sidecar (16 B per entry)
#        MICRO_BATCHES=5 MICRO_ITERATIONS=3000   the verify ceiling's batches
#        SIDECAR=<repo>/build/mcp-sidecar        LOADGEN=<dir of SIDECAR>/bench/mcp-sidecar-load
#        ED25519_BENCH=<dir of SIDECAR>/bench/mcp-sidecar-ed25519-bench
#        SERVER_CPU=0 LOAD_CPU=1                 RESULTS_DIR=<repo>/bench/results
# needs: nginx, taskset, curl, pgrep, python3, timeout (checked; this script installs nothing)
# ports: 127.0.0.1:18081 upstream, :18085/:18086 sidecar --verify off (listener/admin),
#        :18087/:18088 sidecar --verify enforce
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)

case "${1:-}" in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 1 ] || { echo "usage: $0 [WORK_DIR]" >&2; exit 2; }

RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-50}
VARIANTS=${VARIANTS:-"1core 2core"}
WORKERS=${WORKERS:-2}
OPEN_RATE=${OPEN_RATE:-1000}
OPEN_DURATION=${OPEN_DURATION:-10s}
OPEN_CONNS=${OPEN_CONNS:-32}
PRESIGN_RATE=${PRESIGN_RATE:-40000}
REPLAY_CAPACITY=${REPLAY_CAPACITY:-8388608}
MICRO_BATCHES=${MICRO_BATCHES:-5}
MICRO_ITERATIONS=${MICRO_ITERATIONS:-3000}
SIDECAR=${SIDECAR:-$REPO/build/mcp-sidecar}
LOADGEN=${LOADGEN:-$(dirname "$SIDECAR")/bench/mcp-sidecar-load}
ED25519_BENCH=${ED25519_BENCH:-$(dirname "$SIDECAR")/bench/mcp-sidecar-ed25519-bench}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}

UP_PORT=18081
OFF_PORT=18085 OFF_ADMIN=18086
ENF_PORT=18087 ENF_ADMIN=18088
READY_SECS=20 # how long a server may take to answer after start
KEY_ID=bench-caller

say() { echo "# $*"; }
die() { echo "signed-bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------- arguments and requirements
secs_of() { # 10, 10s, 2m, 1h -> whole seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (got '$2')"; }
posint RUNS "$RUNS"
posint CONNS "$CONNS"
posint WORKERS "$WORKERS"
posint OPEN_RATE "$OPEN_RATE"
posint OPEN_CONNS "$OPEN_CONNS"
posint PRESIGN_RATE "$PRESIGN_RATE"
posint REPLAY_CAPACITY "$REPLAY_CAPACITY"
posint MICRO_BATCHES "$MICRO_BATCHES"
posint MICRO_ITERATIONS "$MICRO_ITERATIONS"
for d in "$DURATION" "$WARMUP" "$OPEN_DURATION"; do
  [[ $d =~ ^[0-9]+[smh]?$ ]] || die "DURATION/WARMUP/OPEN_DURATION must look like 10, 10s, 1m (got '$d')"
done
DUR_S=$(secs_of "$DURATION")
WARM_S=$(secs_of "$WARMUP")
OPEN_S=$(secs_of "$OPEN_DURATION")
if [ "$DUR_S" -lt 1 ] || [ "$OPEN_S" -lt 1 ]; then die "DURATION and OPEN_DURATION must be at least 1s"; fi
# Requests are signed with the time they are built at; the sidecar accepts ±300 s by default.
if [ "$DUR_S" -gt 120 ] || [ "$OPEN_S" -gt 120 ]; then
  die "DURATION and OPEN_DURATION may be at most 120s (pre-signed timestamps must stay inside the sidecar's ±300 s window)"
fi
for v in $VARIANTS; do [[ $v == 1core || $v == 2core ]] || die "VARIANTS may contain 1core and 2core (got '$v')"; done
[ "$SERVER_CPU" != "$LOAD_CPU" ] || die "SERVER_CPU and LOAD_CPU must differ"
for c in "$SERVER_CPU" "$LOAD_CPU"; do
  grep -q "^cpu$c " /proc/stat || die "cpu$c is not online (this benchmark needs 2 cores; see SERVER_CPU/LOAD_CPU)"
done

missing=()
NGINX=$(command -v nginx || true)
for p in /usr/sbin/nginx /usr/local/sbin/nginx; do [ -n "$NGINX" ] || [ ! -x "$p" ] || NGINX=$p; done
[ -n "$NGINX" ] || missing+=("nginx    -> apt-get install -y nginx-light")
command -v taskset >/dev/null || missing+=("taskset  -> apt-get install -y util-linux")
command -v pgrep >/dev/null || missing+=("pgrep    -> apt-get install -y procps")
command -v curl >/dev/null || missing+=("curl     -> apt-get install -y curl")
command -v python3 >/dev/null || missing+=("python3  -> apt-get install -y python3")
command -v timeout >/dev/null || missing+=("timeout  -> apt-get install -y coreutils")
for b in "$SIDECAR" "$LOADGEN" "$ED25519_BENCH"; do
  [ -x "$b" ] || missing+=("$b -> build it: cd $REPO && cmake -S . -B build && cmake --build build -j
             (the two bench tools come from bench/signed-load; or set SIDECAR, LOADGEN, ED25519_BENCH)")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "signed-bench: missing requirements:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
SIDECAR=$(abspath "$SIDECAR")
LOADGEN=$(abspath "$LOADGEN")
ED25519_BENCH=$(abspath "$ED25519_BENCH")

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$UP_PORT" "$OFF_PORT" "$OFF_ADMIN" "$ENF_PORT" "$ENF_ADMIN"; do
  ! port_busy "$p" || die "127.0.0.1:$p is already in use; stop whatever listens there first"
done

WORK=${1:-$(mktemp -d --tmpdir mcp-sidecar-signed-bench.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd) # nginx -p needs an absolute prefix
chmod 755 "$WORK"         # nginx workers run as nobody when started by root
RAW=$WORK/raw.txt META=$WORK/meta.txt
: >"$RAW"
: >"$META"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo norev)
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- processes and cleanup
PIDS=()      # every server this script started and has not stopped yet
CHILD_PID="" # the load generator or micro benchmark running now
UP_PID="" OFF_PID="" ENF_PID=""

stop_pids() { # PID...: TERM, up to 5 s, then KILL (children too)
  local pid _ alive c
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "$@"; do ! kill -0 "$pid" 2>/dev/null || alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "signed-bench: pid $pid did not stop on TERM; killing it" >&2
      for c in $(pgrep -P "$pid" || true); do kill -KILL "$c" 2>/dev/null || true; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
forget_pids() { # PID...: no longer ours to stop
  local keep=() p q drop
  for p in ${PIDS[@]+"${PIDS[@]}"}; do
    drop=0
    for q in "$@"; do [ "$p" != "$q" ] || drop=1; done
    [ "$drop" = 1 ] || keep+=("$p")
  done
  PIDS=(${keep[@]+"${keep[@]}"})
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$CHILD_PID" ] || kill -TERM "$CHILD_PID" 2>/dev/null || true
  [ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "signed-bench: interrupted" >&2; exit 130' INT
trap 'echo "signed-bench: terminated" >&2; exit 143' TERM

# Every thread of each process and of its children (nginx workers) goes to the cpu list $1.
pin() {
  local cpus=$1 pid c
  shift
  for pid in "$@"; do
    taskset -a -p -c "$cpus" "$pid" >/dev/null
    for c in $(pgrep -P "$pid" || true); do taskset -a -p -c "$cpus" "$c" >/dev/null; done
  done
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true; }

# Inodes of the listening TCP sockets on port $1.
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
# "ours" when process $1 (or a child) holds every listening socket on port $2, "none" when nobody
# listens, "foreign" otherwise: a server someone else started must not be measured by mistake.
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

wait_ready() { # NAME PID "PORTS" URL: until PID holds PORTS and URL answers 200
  local name=$1 pid=$2 want=$3 url=$4 _ p owned
  for _ in $(seq 1 $((READY_SECS * 10))); do
    kill -0 "$pid" 2>/dev/null || return 1
    owned=1
    for p in $want; do
      case $(port_state "$pid" "$p") in
        foreign)
          echo "signed-bench: another process listens on port $p (not the $name this script started); stop it first" >&2
          return 1
          ;;
        none) owned=0 ;;
      esac
    done
    if [ "$owned" = 1 ] && [ "$(http_code "$url")" = 200 ]; then return 0; fi
    sleep 0.1
  done
  echo "signed-bench: $name did not answer 200 within ${READY_SECS}s on $url" >&2
  return 1
}

server_failed() { # NAME LOG
  echo "signed-bench: $1 failed to start; last lines of $2:" >&2
  tail -n 20 "$2" >&2 || true
  exit 1
}

# ---------------------------------------------------------------- measurement helpers
# /proc/stat ticks: "server_total server_idle load_total load_idle steal_both"
ticks() {
  awk -v s="cpu$SERVER_CPU" -v l="cpu$LOAD_CPU" '
    $1 == s || $1 == l { t = 0; for (i = 2; i <= 9; i++) t += $i
                         tot[$1] = t; idle[$1] = $5 + $6; steal += $9 }
    END { printf "%d %d %d %d %d\n", tot[s], idle[s], tot[l], idle[l], steal }' /proc/stat
}
busy_fields() { # "before" "after" -> server_busy=.. load_busy=.. steal=..
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    ds = y[1] - x[1]; dl = y[3] - x[3]; if (ds <= 0) ds = 1; if (dl <= 0) dl = 1
    printf "server_busy=%.1f load_busy=%.1f steal=%.1f",
      100 * (ds - (y[2] - x[2])) / ds, 100 * (dl - (y[4] - x[4])) / dl, 100 * (y[5] - x[5]) / (ds + dl) }'
}
# utime + stime (clock ticks) of process $1 and its children, all threads included.
proc_ticks() {
  local p sum=0 t
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

# The load generator, bounded in time, with the cpu counters taken around its measured part (it
# prints its "# mcp-sidecar-load:" line once the requests are built, right before it connects).
# LOAD_ARGS: extra generator arguments; GEN_CPU: "" (unpinned) or the cpu for --cpu.
# Sets LOAD_OUT (the RESULT fields) and CPU_OUT.
run_load() { # OUTFILE SIDECAR_PID LIMIT_SECS ARGS...
  local out=$1 spid=$2 limit=$3 s0 s1 p0 p1 u0 u1 answers
  shift 3
  local cpu_args=()
  [ -z "$GEN_CPU" ] || cpu_args=(--cpu "$GEN_CPU")
  timeout -k 5 "$limit" "$LOADGEN" "$@" ${cpu_args[@]+"${cpu_args[@]}"} >"$out" 2>&1 &
  CHILD_PID=$!
  while kill -0 "$CHILD_PID" 2>/dev/null && ! grep -q '^# mcp-sidecar-load:' "$out"; do sleep 0.02; done
  s0=$(ticks)
  p0=$(proc_ticks "$spid")
  u0=$(proc_ticks "$UP_PID")
  wait "$CHILD_PID" || true
  CHILD_PID=""
  s1=$(ticks)
  p1=$(proc_ticks "$spid")
  u1=$(proc_ticks "$UP_PID")
  LOAD_OUT=$(grep -m1 '^RESULT ' "$out" || true)
  if [ -z "$LOAD_OUT" ]; then # the generator failed before its end: a flagged, empty result
    LOAD_OUT="RESULT mode=failed rps=0 p50_us=0 p90_us=0 p99_us=0 p999_us=0 sent=0 ok=0 non2xx=0 errors=-1 late=0"
  fi
  LOAD_OUT=${LOAD_OUT#RESULT }
  answers=$(sed -n 's/.* ok=\([0-9]*\) non2xx=\([0-9]*\) .*/\1 \2/p' <<<"$LOAD_OUT" | awk '{ print $1 + $2 }')
  CPU_OUT="$(busy_fields "$s0" "$s1") $(awk -v p=$((p1 - p0)) -v u=$((u1 - u0)) -v n="${answers:-0}" -v hz="$CLK_TCK" \
    'BEGIN { if (n < 1) n = 1; printf "sidecar_cpu_us=%.1f upstream_cpu_us=%.1f", p * 1e6 / hz / n, u * 1e6 / hz / n }')"
}

record() { # LINE: to stdout and raw.txt; warns about flagged runs
  echo "$1" | tee -a "$RAW"
  if [[ ! $1 =~ \ errors=0\  ]] || [[ ! $1 =~ \ non2xx=0\  ]] || [[ $1 =~ \ exhausted=1 ]]; then
    say "WARNING: flagged run (errors, non-2xx answers or pre-signed requests used up): $1"
  fi
}

# One measured load run. KIND: closed_unsigned, closed_signed, open_unsigned, open_signed.
measure() { # VARIANT KIND RUN
  local variant=$1 kind=$2 run=$3 out=$WORK/load-$1-$2-run$3.txt url pid limit args=()
  case $kind in
    *_unsigned) url="http://127.0.0.1:$OFF_PORT/mcp" pid=$OFF_PID ;;
    *_signed) url="http://127.0.0.1:$ENF_PORT/mcp" pid=$ENF_PID args=(--key "$WORK/caller.key" --key-id "$KEY_ID") ;;
  esac
  case $kind in
    closed_*)
      args+=(--connections "$CONNS" --duration "${DUR_S}s")
      [[ $kind != *_signed ]] || args+=(--presign $((PRESIGN_RATE * DUR_S)))
      limit=$((DUR_S + 120))
      ;;
    open_*)
      args+=(--connections "$OPEN_CONNS" --duration "${OPEN_S}s" --rate "$OPEN_RATE")
      limit=$((OPEN_S + 120))
      ;;
  esac
  place "$variant" "$pid"
  run_load "$out" "$pid" "$limit" --url "$url" "${args[@]}"
  record "RUN variant=$variant kind=$kind run=$run $LOAD_OUT $CPU_OUT"
  [ "$run" != 1 ] || meta "cmd_${variant}_$kind" "$(basename "$LOADGEN") --url $url ${args[*]}${GEN_CPU:+ --cpu $GEN_CPU}"
}

micro() { # VARIANT RUN: the verify ceiling on the server cpu (idle at that moment)
  local out=$WORK/micro-$1-run$2.txt res
  timeout -k 5 300 taskset -c "$SERVER_CPU" "$ED25519_BENCH" --batches "$MICRO_BATCHES" \
    --iterations "$MICRO_ITERATIONS" --bytes 300 >"$out" 2>&1 &
  CHILD_PID=$!
  wait "$CHILD_PID" || true
  CHILD_PID=""
  res=$(grep -m1 '^RESULT ' "$out" || echo "RESULT verify_us=0 failed=1")
  echo "RUN variant=$1 kind=verify run=$2 ${res#RESULT }" | tee -a "$RAW"
}

# Where everything runs in a variant while sidecar PID $2 is measured.
place() { # VARIANT MEASURED_PID
  local other=$OFF_PID
  [ "$2" != "$OFF_PID" ] || other=$ENF_PID
  if [ "$1" = 1core ]; then
    pin "$SERVER_CPU" "$2" "$UP_PID"
    pin "$LOAD_CPU" "$other"
    GEN_CPU=$LOAD_CPU
  else
    pin "$SERVER_CPU,$LOAD_CPU" "$2" "$other" "$UP_PID"
    GEN_CPU=""
  fi
}

meta() { printf '%s=%s\n' "$1" "$2" >>"$META"; }

preflight() { # VARIANT NAME PORT EXPECTED_STATUS [GENERATOR ARGS...]: one request, its status
  local variant=$1 name=$2 port=$3 expect=$4 out=$WORK/preflight-$1-$2.txt res got
  shift 4
  timeout -k 5 60 "$LOADGEN" --url "http://127.0.0.1:$port/mcp" --connections 1 --requests 1 "$@" >"$out" 2>&1 || true
  res=$(grep -m1 '^RESULT ' "$out" || echo "RESULT ok=0 non2xx=0 errors=1")
  got=$(sed -n 's/^# status counts: *//p' "$out")
  echo "PREFLIGHT variant=$variant check=$name expect=$expect status=${got// /,} ${res#RESULT }" | tee -a "$RAW"
  [[ " $got " == *" $expect=1 "* ]]
}

# ---------------------------------------------------------------- start
NV=0
for _ in $VARIANTS; do NV=$((NV + 1)); done
EST=$((NV * (2 * WARM_S + 10 + RUNS * (2 * DUR_S + 2 * OPEN_S + PRESIGN_RATE * DUR_S * 40 / 1000000 + 12))))
say "mcp-sidecar signed-bench: work dir $WORK"
say "variants: $VARIANTS; runs=$RUNS; closed ${DURATION} x $CONNS connections; open $OPEN_RATE req/s for $OPEN_DURATION over $OPEN_CONNS connections"
say "expected duration: about $((EST / 60)) min $((EST % 60)) s"

t0=$(ticks)
sleep 1
IDLE_CHECK=$(busy_fields "$t0" "$(ticks)")
IDLE_CHECK=${IDLE_CHECK% steal=*}
if awk -v l="$IDLE_CHECK" 'BEGIN { n = split(l, f, /[= ]/); for (i = 2; i <= n; i += 2) if (f[i] + 0 > 10) exit 0; exit 1 }'; then
  say "WARNING: the machine is not idle before the benchmark ($IDLE_CHECK over 1 s): expect noisy numbers"
  IDLE_CHECK+=" (NOT IDLE)"
fi

# The trivial upstream.
mkdir -p "$WORK/upstream/logs"
taskset -c "$SERVER_CPU" "$NGINX" -p "$WORK/upstream/" -e "$WORK/upstream/logs/error.log" \
  -c "$BENCH/nginx/upstream.conf" -g 'daemon off;' >"$WORK/upstream/logs/stdout.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
wait_ready upstream "$UP_PID" "$UP_PORT" "http://127.0.0.1:$UP_PORT/" || server_failed upstream "$WORK/upstream/logs/error.log"

# The caller key and the trust store holding it.
mkdir -p "$WORK/keys"
(cd "$WORK/keys" && timeout 10 env -u AIM_URL -u AIM_API_KEY "$SIDECAR" keygen --out "$WORK/caller.key" --id "$KEY_ID") \
  >"$WORK/keys/keygen.txt" 2>&1 || { cat "$WORK/keys/keygen.txt" >&2; die "mcp-sidecar keygen failed"; }
{
  echo "# made by bench/signed-bench.sh from mcp-sidecar keygen"
  echo "keys:"
  sed -n '/^  - id:/,/^    public_key:/p' "$WORK/keys/keygen.txt"
} >"$WORK/trust-store.yaml"
grep -q "public_key:" "$WORK/trust-store.yaml" || die "no trust-store entry in the keygen output ($WORK/keys/keygen.txt)"

SIDECAR_VERSION=$(cd "$WORK" && { timeout 5 "$SIDECAR" --version 2>&1 || true; } | head -n 3 | paste -sd ' ' -)

start_sidecars() { # WORKERS: both sidecars, fresh (the enforcing one with an empty replay cache)
  local w=$1
  mkdir -p "$WORK/sidecar-off" "$WORK/sidecar-enforce"
  OFF_CMD=("$SIDECAR" serve --listen "127.0.0.1:$OFF_PORT" --admin "127.0.0.1:$OFF_ADMIN"
    --upstream "http://127.0.0.1:$UP_PORT" --verify off --workers "$w" --log-level warn)
  ENF_CMD=("$SIDECAR" serve --listen "127.0.0.1:$ENF_PORT" --admin "127.0.0.1:$ENF_ADMIN"
    --upstream "http://127.0.0.1:$UP_PORT" --verify enforce --trust-store "$WORK/trust-store.yaml"
    --replay-capacity "$REPLAY_CAPACITY" --workers "$w" --log-level warn)
  # Working directories inside WORK (their ./.mcp-sidecar state lands there); no AIM platform is
  # contacted, whatever the caller's environment says.
  (cd "$WORK/sidecar-off" && exec env -u AIM_URL -u AIM_API_KEY "${OFF_CMD[@]}") >>"$WORK/sidecar-off/sidecar.log" 2>&1 &
  OFF_PID=$!
  PIDS+=("$OFF_PID")
  (cd "$WORK/sidecar-enforce" && exec env -u AIM_URL -u AIM_API_KEY "${ENF_CMD[@]}") >>"$WORK/sidecar-enforce/sidecar.log" 2>&1 &
  ENF_PID=$!
  PIDS+=("$ENF_PID")
  wait_ready "mcp-sidecar (--verify off)" "$OFF_PID" "$OFF_PORT $OFF_ADMIN" "http://127.0.0.1:$OFF_ADMIN/readyz" ||
    server_failed "mcp-sidecar (--verify off)" "$WORK/sidecar-off/sidecar.log"
  wait_ready "mcp-sidecar (--verify enforce)" "$ENF_PID" "$ENF_PORT $ENF_ADMIN" "http://127.0.0.1:$ENF_ADMIN/readyz" ||
    server_failed "mcp-sidecar (--verify enforce)" "$WORK/sidecar-enforce/sidecar.log"
}
stop_sidecars() {
  stop_pids "$OFF_PID" "$ENF_PID"
  wait "$OFF_PID" "$ENF_PID" 2>/dev/null || true
  forget_pids "$OFF_PID" "$ENF_PID"
  OFF_PID="" ENF_PID=""
}

# ---------------------------------------------------------------- machine and versions
cmdline=""
for v in RUNS DURATION WARMUP CONNS VARIANTS WORKERS OPEN_RATE OPEN_DURATION OPEN_CONNS PRESIGN_RATE \
  REPLAY_CAPACITY MICRO_BATCHES MICRO_ITERATIONS SIDECAR SERVER_CPU LOAD_CPU; do
  cmdline+="$v=$(printf '%q' "${!v}") "
done
cmdline+="bench/signed-bench.sh"
[ $# -eq 0 ] || cmdline+=" $(printf '%q' "$1")"
meta date_utc "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
meta git_rev "$REV"
meta git_dirty "$(if [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null | grep -v ' bench/results/' || true)" ]; then echo yes; else echo no; fi)"
meta command "$cmdline"
meta cpu_model "$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
meta cores "$(nproc)"
meta kernel "$(uname -r)"
meta os "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
meta debian "$(cat /etc/debian_version 2>/dev/null || echo '?')"
meta memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
meta virtualization "$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n 1)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta idle_check "$IDLE_CHECK"
meta nginx "$("$NGINX" -v 2>&1 | head -n 1)"
meta gcc "$(gcc --version 2>/dev/null | head -n 1 || echo 'not found')"
meta libuv "$(pkg-config --modversion libuv 2>/dev/null || echo '?')"
meta libsodium "$(pkg-config --modversion libsodium 2>/dev/null || echo '?')"
meta llhttp "$(awk '/define LLHTTP_VERSION_(MAJOR|MINOR|PATCH)/ { v = v (v == "" ? "" : ".") $3 } END { print v }' /usr/share/include/llhttp/llhttp.h 2>/dev/null || echo '?')"
meta sidecar_path "$SIDECAR"
meta sidecar_version "$SIDECAR_VERSION"
meta sidecar_sha256 "$(sha256sum "$SIDECAR" | cut -c1-16)"
meta sidecar_build_type "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$SIDECAR")/CMakeCache.txt" 2>/dev/null || true)"
meta loadgen "$LOADGEN ($(sha256sum "$LOADGEN" | cut -c1-16))"
meta ed25519_bench "$ED25519_BENCH ($(sha256sum "$ED25519_BENCH" | cut -c1-16))"
meta runs "$RUNS"
meta duration "$DURATION"
meta warmup "$WARMUP"
meta conns "$CONNS"
meta open_rate "$OPEN_RATE"
meta open_duration "$OPEN_DURATION"
meta open_conns "$OPEN_CONNS"
meta presign_rate "$PRESIGN_RATE"
meta replay_capacity "$REPLAY_CAPACITY"
meta workers_2core "$WORKERS"
meta server_cpu "$SERVER_CPU"
meta load_cpu "$LOAD_CPU"
meta variants "$VARIANTS"
meta work_dir "$WORK"
meta micro_cmd "taskset -c $SERVER_CPU $(basename "$ED25519_BENCH") --batches $MICRO_BATCHES --iterations $MICRO_ITERATIONS --bytes 300"
cat "$META"

# ---------------------------------------------------------------- the runs
ABORT=""
for variant in $VARIANTS; do
  [ -z "$ABORT" ] || break
  if [ "$variant" = 1core ]; then w=1; else w=$WORKERS; fi
  say "variant $variant: sidecars with --workers $w"
  start_sidecars "$w"
  meta "sidecar_off_cmd_$variant" "$(printf '%q ' "${OFF_CMD[@]}")"
  meta "sidecar_enforce_cmd_$variant" "$(printf '%q ' "${ENF_CMD[@]}")"

  # Pre-flight: a signed request must pass the enforcing sidecar, an unsigned one must not, and
  # an unsigned one must pass the other; otherwise the runs would measure some other path.
  preflight "$variant" unsigned-via-off "$OFF_PORT" 200 || ABORT="pre-flight: an unsigned request through --verify off did not get 200 ($WORK/preflight-$variant-unsigned-via-off.txt)"
  preflight "$variant" signed-via-enforce "$ENF_PORT" 200 --key "$WORK/caller.key" --key-id "$KEY_ID" ||
    ABORT="pre-flight: a signed request through --verify enforce did not get 200 ($WORK/preflight-$variant-signed-via-enforce.txt)"
  preflight "$variant" unsigned-via-enforce "$ENF_PORT" 401 || ABORT="pre-flight: an unsigned request through --verify enforce was not refused with 401"
  if [ -n "$ABORT" ]; then
    stop_sidecars
    break
  fi

  if [ "$WARM_S" -gt 0 ]; then
    say "variant $variant: warm-up ${WARMUP} per sidecar"
    place "$variant" "$OFF_PID"
    run_load "$WORK/warmup-$variant-unsigned.txt" "$OFF_PID" $((WARM_S + 60)) \
      --url "http://127.0.0.1:$OFF_PORT/mcp" --connections "$CONNS" --duration "${WARM_S}s"
    place "$variant" "$ENF_PID"
    run_load "$WORK/warmup-$variant-signed.txt" "$ENF_PID" $((WARM_S + 60)) \
      --url "http://127.0.0.1:$ENF_PORT/mcp" --connections "$CONNS" --duration "${WARM_S}s" \
      --key "$WORK/caller.key" --key-id "$KEY_ID" --presign $((PRESIGN_RATE * WARM_S))
  fi

  for run in $(seq 1 "$RUNS"); do
    say "variant $variant: round $run of $RUNS"
    for kind in closed_unsigned closed_signed open_unsigned open_signed; do
      if ! kill -0 "$OFF_PID" 2>/dev/null || ! kill -0 "$ENF_PID" 2>/dev/null; then
        ABORT="a sidecar exited during variant $variant, round $run (logs in $WORK/sidecar-*/sidecar.log)"
        break 2
      fi
      measure "$variant" "$kind" "$run"
    done
    micro "$variant" "$run"
  done
  meta "sidecar_enforce_log_$variant" "$(grep -c '"level":"warn"' "$WORK/sidecar-enforce/sidecar.log" || true) warn lines in $WORK/sidecar-enforce/sidecar.log"
  stop_sidecars
done
[ -z "$ABORT" ] || echo "signed-bench: ABORTED: $ABORT" >&2

# ---------------------------------------------------------------- report
meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta aborted "$ABORT"
meta nginx_log "$WORK/upstream/logs/error.log"
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/signed-$STAMP-$REV.md
python3 "$BENCH/signed_summarize.py" "$META" "$RAW" >"$REPORT"
say "report: $REPORT"
say "raw runs and logs: $WORK"
[ -z "$ABORT" ] || exit 1
