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
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
# RUNS DURATION WARMUP CONNS SERVER_CPU LOAD_CPU RESULTS_DIR SIDECAR, REPO, READY_SECS, UP_PORT:
bench_init signed-bench "$@"
OFF_PORT=18085 OFF_ADMIN=18086
ENF_PORT=18087 ENF_ADMIN=18088
KEY_ID=bench-caller

VARIANTS=${VARIANTS:-"1core 2core"}
WORKERS=${WORKERS:-2}
OPEN_RATE=${OPEN_RATE:-1000}
OPEN_DURATION=${OPEN_DURATION:-10s}
OPEN_CONNS=${OPEN_CONNS:-32}
PRESIGN_RATE=${PRESIGN_RATE:-40000}
REPLAY_CAPACITY=${REPLAY_CAPACITY:-8388608}
MICRO_BATCHES=${MICRO_BATCHES:-5}
MICRO_ITERATIONS=${MICRO_ITERATIONS:-3000}
LOADGEN=${LOADGEN:-$(dirname "$SIDECAR")/bench/mcp-sidecar-load}
ED25519_BENCH=${ED25519_BENCH:-$(dirname "$SIDECAR")/bench/mcp-sidecar-ed25519-bench}

# ---------------------------------------------------------------- arguments and requirements
posint RUNS "$RUNS"
posint CONNS "$CONNS"
posint WORKERS "$WORKERS"
posint OPEN_RATE "$OPEN_RATE"
posint OPEN_CONNS "$OPEN_CONNS"
posint PRESIGN_RATE "$PRESIGN_RATE"
posint REPLAY_CAPACITY "$REPLAY_CAPACITY"
posint MICRO_BATCHES "$MICRO_BATCHES"
posint MICRO_ITERATIONS "$MICRO_ITERATIONS"
durations DURATION/WARMUP/OPEN_DURATION "$DURATION" "$WARMUP" "$OPEN_DURATION"
DUR_S=$(secs_of "$DURATION")
WARM_S=$(secs_of "$WARMUP")
OPEN_S=$(secs_of "$OPEN_DURATION")
if [ "$DUR_S" -lt 1 ] || [ "$OPEN_S" -lt 1 ]; then die "DURATION and OPEN_DURATION must be at least 1s"; fi
# Requests are signed with the time they are built at; the sidecar accepts ±300 s by default.
if [ "$DUR_S" -gt 120 ] || [ "$OPEN_S" -gt 120 ]; then
  die "DURATION and OPEN_DURATION may be at most 120s (pre-signed timestamps must stay inside the sidecar's ±300 s window)"
fi
for v in $VARIANTS; do [[ $v == 1core || $v == 2core ]] || die "VARIANTS may contain 1core and 2core (got '$v')"; done
check_cpus

missing=()
find_nginx
need_tools
for b in "$SIDECAR" "$LOADGEN" "$ED25519_BENCH"; do
  [ -x "$b" ] || missing+=("$b -> build it: cd $REPO && cmake -S . -B build && cmake --build build -j
             (the two bench tools come from bench/signed-load; or set SIDECAR, LOADGEN, ED25519_BENCH)")
done
missing_exit ""
SIDECAR=$(abspath "$SIDECAR")
LOADGEN=$(abspath "$LOADGEN")
ED25519_BENCH=$(abspath "$ED25519_BENCH")

ports_free "$UP_PORT" "$OFF_PORT" "$OFF_ADMIN" "$ENF_PORT" "$ENF_ADMIN"

WORK=${1:-$(mktemp -d --tmpdir mcp-sidecar-signed-bench.XXXXXX)}
init_work
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- processes and cleanup
PIDS=()      # every server this script started and has not stopped yet
CHILD_PID="" # the load generator or micro benchmark running now
UP_PID="" OFF_PID="" ENF_PID=""

forget_pids() { # PID...: no longer ours to stop
  local keep=() p q drop
  for p in ${PIDS[@]+"${PIDS[@]}"}; do
    drop=0
    for q in "$@"; do [ "$p" != "$q" ] || drop=1; done
    [ "$drop" = 1 ] || keep+=("$p")
  done
  PIDS=(${keep[@]+"${keep[@]}"})
}
set_traps

# ---------------------------------------------------------------- measurement helpers
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
  CHILD_PID=$! # not run_child: the counters are taken while it runs
  while kill -0 "$CHILD_PID" 2>/dev/null && ! grep -q '^# mcp-sidecar-load:' "$out"; do sleep 0.02; done
  s0=$(ticks)
  p0=$(proc_ticks "$spid")
  u0=$(proc_ticks "$UP_PID")
  reap_child
  s1=$(ticks)
  p1=$(proc_ticks "$spid")
  u1=$(proc_ticks "$UP_PID")
  LOAD_OUT=$(grep -m1 '^RESULT ' "$out" || true)
  if [ -z "$LOAD_OUT" ]; then # the generator failed before its end: a flagged, empty result
    LOAD_OUT="RESULT mode=failed rps=0 p50_us=0 p90_us=0 p99_us=0 p999_us=0 sent=0 ok=0 non2xx=0 errors=-1 late=0"
  fi
  LOAD_OUT=${LOAD_OUT#RESULT }
  answers=$(sed -n 's/.* ok=\([0-9]*\) non2xx=\([0-9]*\) .*/\1 \2/p' <<<"$LOAD_OUT" | awk '{ print $1 + $2 }')
  CPU_OUT="$(busy_fields "$s0" "$s1" both) $(awk -v p=$((p1 - p0)) -v u=$((u1 - u0)) -v n="${answers:-0}" -v hz="$CLK_TCK" \
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
  run_child "$out" timeout -k 5 300 taskset -c "$SERVER_CPU" "$ED25519_BENCH" --batches "$MICRO_BATCHES" \
    --iterations "$MICRO_ITERATIONS" --bytes 300
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
say_start "$EST" "variants: $VARIANTS; runs=$RUNS; closed ${DURATION} x $CONNS connections; open $OPEN_RATE req/s for $OPEN_DURATION over $OPEN_CONNS connections"

check_idle

# The trivial upstream.
start_upstream "$SERVER_CPU"

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

SIDECAR_VERSION=$(sidecar_version "$SIDECAR" "$WORK")

start_sidecars() { # WORKERS: both sidecars, fresh (the enforcing one with an empty replay cache)
  local w=$1
  mkdir -p "$WORK/sidecar-off" "$WORK/sidecar-enforce"
  OFF_CMD=("$SIDECAR" serve --listen "127.0.0.1:$OFF_PORT" --admin "127.0.0.1:$OFF_ADMIN"
    --upstream "http://127.0.0.1:$UP_PORT" --verify off --workers "$w" --log-level warn)
  ENF_CMD=("$SIDECAR" serve --listen "127.0.0.1:$ENF_PORT" --admin "127.0.0.1:$ENF_ADMIN"
    --upstream "http://127.0.0.1:$UP_PORT" --verify enforce --trust-store "$WORK/trust-store.yaml"
    --replay-capacity "$REPLAY_CAPACITY" --workers "$w" --log-level warn)
  start_sidecar "$WORK/sidecar-off" "$WORK/sidecar-off/sidecar.log" "${OFF_CMD[@]}"
  OFF_PID=$LAST_PID
  start_sidecar "$WORK/sidecar-enforce" "$WORK/sidecar-enforce/sidecar.log" "${ENF_CMD[@]}"
  ENF_PID=$LAST_PID
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
meta_facts date_utc git_rev git_dirty
meta command "$(command_line bench/signed-bench.sh "RUNS DURATION WARMUP CONNS VARIANTS WORKERS OPEN_RATE OPEN_DURATION \
OPEN_CONNS PRESIGN_RATE REPLAY_CAPACITY MICRO_BATCHES MICRO_ITERATIONS SIDECAR SERVER_CPU LOAD_CPU" "$@")"
meta_facts cpu_model cores kernel os debian memory virtualization loadavg_start idle_check nginx gcc
meta libuv "$(pkg-config --modversion libuv 2>/dev/null || echo '?')"
meta libsodium "$(pkg-config --modversion libsodium 2>/dev/null || echo '?')"
meta llhttp "$(awk '/define LLHTTP_VERSION_(MAJOR|MINOR|PATCH)/ { v = v (v == "" ? "" : ".") $3 } END { print v }' /usr/share/include/llhttp/llhttp.h 2>/dev/null || echo '?')"
meta_sidecar "$SIDECAR" "$SIDECAR_VERSION"
meta loadgen "$LOADGEN ($(sha256sum "$LOADGEN" | cut -c1-16))"
meta ed25519_bench "$ED25519_BENCH ($(sha256sum "$ED25519_BENCH" | cut -c1-16))"
meta_vars RUNS DURATION WARMUP CONNS OPEN_RATE OPEN_DURATION OPEN_CONNS PRESIGN_RATE REPLAY_CAPACITY
meta workers_2core "$WORKERS"
meta_vars SERVER_CPU LOAD_CPU VARIANTS
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

# ---------------------------------------------------------------- report
meta_end
meta nginx_log "$WORK/upstream/logs/error.log"
write_report signed signed_summarize.py
