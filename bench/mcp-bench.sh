#!/usr/bin/env bash
# mcp-bench.sh - mcp-sidecar as a stdio bridge beside the Node bridges mcp-proxy and supergateway,
# all in front of the same stdio MCP server (server-everything, tool `echo`), in one run.
#
# Three measurements (see bench/README.md, "MCP stdio bridge"):
#   startup  spawn -> first answered tools/call: the stdio server alone over its own stdio, and
#            each bridge over HTTP (initialize included); rounds alternate the targets
#   load     closed-loop tools/call at each concurrency of CLIST, one MCP session per worker; all
#            targets started fresh per concurrency, runs alternate the targets (sidecar,
#            mcp-proxy, supergateway, sidecar, ...): compare the ratios taken in this run
#   soak     a fresh start of each target, then SOAK_REQUESTS tools/call at SOAK_CONNS sessions,
#            RSS sampled at start, every tenth of the way and at the end
# The target under test (bridge + its stdio children) is pinned to SERVER_CPU, the load tools to
# LOAD_CPU; targets not being measured stay parked, idle, on LOAD_CPU.
#
# usage: bench/mcp-bench.sh [--quick] [WORK_DIR]   (WORK_DIR: logs and raw output; default mktemp)
#   --quick   RUNS=1 DURATION=3s WARMUP=1s STARTUP_RUNS=2 SOAK_REQUESTS=10000 unless set: checks
#             that everything works (about 2 minutes), numbers not to be quoted; the report goes
#             to WORK_DIR instead of bench/results unless RESULTS_DIR is set
# env:   RUNS=5 DURATION=10s WARMUP=2s CLIST="1 16"     load runs per target and concurrency
#        STARTUP_RUNS=7                                 startup samples per target
#        SOAK_REQUESTS=100000 SOAK_CONNS=16             the RSS soak (SOAK_REQUESTS=0 skips it)
#        TARGETS="sidecar mcp-proxy supergateway"       which bridges
#        SIDECAR=<repo>/build/mcp-sidecar               the binary; SIDECAR=none leaves it out
#        SIDECAR_EXTRA_ARGS="..."                       more `mcp-sidecar serve` flags (word-split)
#        NODE=node                                      runs the peers, the stdio server, the tools
#        SERVER_CPU=0 LOAD_CPU=1                        the two cpus used
#        RESULTS_DIR=<repo>/bench/results               where the Markdown report goes
# needs: node >= 20 and npm (bench/mcp/install-peers.sh installs the pinned peers into .peers/ the
#        first time), taskset, curl, pgrep, python3
# ports: 127.0.0.1:18190 sidecar, :18191 sidecar admin, :18192 mcp-proxy, :18193 supergateway
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
QUICK=0
QUICK_RESULTS=${RESULTS_DIR:-} # quick reports go to the work dir unless RESULTS_DIR is given
if [ "${1:-}" = --quick ]; then
  QUICK=1
  shift
  RUNS=${RUNS:-1} DURATION=${DURATION:-3s} WARMUP=${WARMUP:-1s}
  STARTUP_RUNS=${STARTUP_RUNS:-2} SOAK_REQUESTS=${SOAK_REQUESTS:-10000}
fi
# RUNS DURATION WARMUP SERVER_CPU LOAD_CPU RESULTS_DIR SIDECAR, REPO, READY_SECS:
bench_init mcp-bench "$@"
CLIST=${CLIST:-"1 16"}
STARTUP_RUNS=${STARTUP_RUNS:-7}
SOAK_REQUESTS=${SOAK_REQUESTS:-100000}
SOAK_CONNS=${SOAK_CONNS:-16}
TARGETS_WANTED=${TARGETS:-"sidecar mcp-proxy supergateway"}
SIDECAR_EXTRA_ARGS=${SIDECAR_EXTRA_ARGS:-}
NODE=${NODE:-node}
SIDECAR_PORT=18190 ADMIN_PORT=18191 PROXY_PORT=18192 SG_PORT=18193
MCP=$BENCH/mcp

# ---------------------------------------------------------------- arguments and requirements
posint RUNS "$RUNS"
posint STARTUP_RUNS "$STARTUP_RUNS"
posint SOAK_CONNS "$SOAK_CONNS"
[[ $SOAK_REQUESTS =~ ^[0-9]+$ ]] || die "SOAK_REQUESTS must be a number (got '$SOAK_REQUESTS')"
durations DURATION/WARMUP "$DURATION" "$WARMUP"
DUR_S=$(secs_of "$DURATION")
WARM_S=$(secs_of "$WARMUP")
[ "$DUR_S" -gt 0 ] || die "DURATION must be at least 1s"
for c in $CLIST; do posint "CLIST entry" "$c"; done
TARGETS=()
for t in $TARGETS_WANTED; do
  case $t in
    sidecar) [ "$SIDECAR" = none ] || TARGETS+=(sidecar) ;;
    mcp-proxy | supergateway) TARGETS+=("$t") ;;
    *) die "TARGETS may contain sidecar, mcp-proxy and supergateway (got '$t')" ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || die "no target left to measure (TARGETS='$TARGETS_WANTED', SIDECAR=$SIDECAR)"
check_cpus

missing=()
need_tools
NODE_BIN=$(command -v "$NODE" || true)
if [ -z "$NODE_BIN" ]; then
  missing+=("node     -> scripts/install-deps.sh (or NODE=/path/to/node)")
elif [ "$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  missing+=("node >= 20 ($NODE_BIN is $("$NODE_BIN" -v)): the peers need it; NODE=/path/to/node")
fi
if [[ " ${TARGETS[*]} " == *" sidecar "* ]] && [ ! -x "$SIDECAR" ]; then
  missing+=("mcp-sidecar ($SIDECAR) -> build it: cd $REPO && cmake -S . -B build && cmake --build build -j
             (or SIDECAR=/path/to/mcp-sidecar, or SIDECAR=none to measure the Node bridges alone)")
fi
missing_exit "  (on Debian 12: apt-get install -y util-linux procps curl python3; Node: scripts/install-deps.sh)"
[ "$SIDECAR" = none ] || SIDECAR=$(abspath "$SIDECAR")
read -r -a SIDECAR_EXTRA <<<"$SIDECAR_EXTRA_ARGS"
PATH="$(dirname "$NODE_BIN"):$PATH" # npm and the peers' own `node` are the same Node
export PATH

PEERS_BENCH=$("$MCP/install-peers.sh") || die "installing the peers failed (bench/mcp/install-peers.sh)"
PEERS=$(dirname "$PEERS_BENCH")
EVERY=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
MCP_PROXY_JS=$PEERS_BENCH/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs
SG_JS=$PEERS_BENCH/node_modules/supergateway/dist/index.js
for f in "$EVERY" "$MCP_PROXY_JS" "$SG_JS"; do [ -f "$f" ] || die "missing after install: $f"; done

ports_free "$SIDECAR_PORT" "$ADMIN_PORT" "$PROXY_PORT" "$SG_PORT"

WORK=${1:-$(mktemp -d --tmpdir mcp-sidecar-mcp-bench.XXXXXX)}
init_work
mkdir -p "$WORK/logs"
[ "$QUICK" = 0 ] || RESULTS_DIR=${QUICK_RESULTS:-$WORK}
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- processes and cleanup
# Each target is a process tree (bridge -> stdio children, through sh for supergateway):
# stopped as a tree, TERM then KILL, by the PIDs collected before the signal.
declare -A PID_OF=()
CHILD_PID=""
tree_pids() { # PID: it and every live descendant
  local c
  echo "$1"
  for c in $(pgrep -P "$1" || true); do tree_pids "$c"; done
}
stop_tree() { # PID
  local pids p _ left
  pids=$(tree_pids "$1")
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 60); do
    left=0
    for p in $pids; do ! kill -0 "$p" 2>/dev/null || left=1; done
    [ "$left" = 1 ] || break
    sleep 0.1
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$1" 2>/dev/null || true
}
stop_target() { # NAME
  [ -n "${PID_OF[$1]:-}" ] || return 0
  stop_tree "${PID_OF[$1]}"
  PID_OF[$1]=""
}
REPORTED=0
mcp_cleanup() {
  local rc=$? t
  trap - EXIT INT TERM ERR
  [ -z "$CHILD_PID" ] || kill -TERM "$CHILD_PID" 2>/dev/null || true
  for t in "${!PID_OF[@]}"; do stop_target "$t"; done
  wait 2>/dev/null || true
  # Stopped early (an error, Ctrl-C): what was measured goes into a partial report in WORK only.
  if [ "$REPORTED" = 0 ] && [ -s "${RAW:-}" ]; then
    meta aborted "${ABORT:-stopped early (exit status $rc)}"
    python3 "$BENCH/mcp/summarize.py" "$META" "$RAW" >"$WORK/report-partial.md" 2>/dev/null &&
      echo "$PROG: stopped early; partial report: $WORK/report-partial.md" >&2
  fi
  exit "$rc"
}
trap mcp_cleanup EXIT
trap 'ABORT=${ABORT:-"a command failed at line $LINENO of bench/mcp-bench.sh"}' ERR
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'echo "$PROG: terminated" >&2; exit 143' TERM

pin_tree() { # CPU PID: every thread of every process of the tree
  local p
  for p in $(tree_pids "$2"); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true; done
}
place() { # TARGET: it to the server cpu, every other running target parked on the load cpu
  local t
  for t in "${!PID_OF[@]}"; do
    [ -n "${PID_OF[$t]}" ] || continue
    if [ "$t" = "$1" ]; then pin_tree "$SERVER_CPU" "${PID_OF[$t]}"; else pin_tree "$LOAD_CPU" "${PID_OF[$t]}"; fi
  done
}

# ---------------------------------------------------------------- the targets
port_of() {
  case $1 in sidecar) echo "$SIDECAR_PORT" ;; mcp-proxy) echo "$PROXY_PORT" ;; supergateway) echo "$SG_PORT" ;; esac
}
url_of() { echo "http://127.0.0.1:$(port_of "$1")/mcp"; }
STDIO_CMD=("$NODE_BIN" "$EVERY" stdio)
# The command that starts TARGET, into CMD (without the taskset prefix). "child" is the stdio
# server alone. `serve` runs with --workers 1: it is pinned to one core (bench-kit convention).
cmd_of() {
  case $1 in
    child) CMD=("${STDIO_CMD[@]}") ;;
    sidecar)
      CMD=(env -u AIM_URL -u AIM_API_KEY "$SIDECAR" serve --listen "127.0.0.1:$SIDECAR_PORT"
        --admin "127.0.0.1:$ADMIN_PORT" --verify off --workers 1 --log-level warn
        ${SIDECAR_EXTRA[@]+"${SIDECAR_EXTRA[@]}"} -- "${STDIO_CMD[@]}") ;;
    mcp-proxy)
      CMD=("$NODE_BIN" "$MCP_PROXY_JS" --host 127.0.0.1 --port "$PROXY_PORT" --server stream
        -- "${STDIO_CMD[@]}") ;;
    supergateway)
      CMD=("$NODE_BIN" "$SG_JS" --stdio "$(printf '%q ' "${STDIO_CMD[@]}")" --outputTransport streamableHttp
        --stateful --port "$SG_PORT") ;;
  esac
}
# The directory a target runs in: the sidecar keeps its state (./.mcp-sidecar) there.
dir_of() { echo "$WORK/run-$1"; }

# Until TARGET's PID holds its port and answers initialize; the probe session is ended again
# (supergateway spawns a stdio child per session).
ready() { # TARGET PID
  local url hdr code sid _
  url=$(url_of "$1")
  hdr=$WORK/ready-$1.headers
  for _ in $(seq 1 $((READY_SECS * 10))); do
    kill -0 "$2" 2>/dev/null || return 1
    case $(port_state "$2" "$(port_of "$1")") in
      foreign)
        echo "$PROG: another process listens on port $(port_of "$1") (not the $1 this script started)" >&2
        return 1 ;;
      ours)
        code=$(curl -s -o "$hdr.body" -D "$hdr" -w '%{http_code}' --max-time 5 -X POST \
          -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
          --data '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-bench-ready","version":"1"}}}' \
          "$url" 2>/dev/null || true)
        if [ "$code" = 200 ] && grep -q '"result"' "$hdr.body"; then
          sid=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d:[[:space:]]*//p' "$hdr" | tr -d '\r')
          [ -z "$sid" ] || curl -s -o /dev/null --max-time 5 -X DELETE -H "Mcp-Session-Id: $sid" \
            -H 'MCP-Protocol-Version: 2025-06-18' "$url" || true
          return 0
        fi ;;
    esac
    sleep 0.1
  done
  echo "$PROG: $1 did not answer initialize within ${READY_SECS}s at $url" >&2
  return 1
}

start_target() { # TARGET: started on the server cpu; sets PID_OF[TARGET]
  local t=$1 dir log out=/dev/null
  dir=$(dir_of "$t")
  log=$WORK/logs/$t.log
  mkdir -p "$dir"
  cmd_of "$t"
  # supergateway and mcp-proxy print every message on stdout (as the anchors ran them: discarded);
  # their stderr and everything mcp-sidecar prints are kept.
  [ "$t" != sidecar ] || out=$log
  (cd "$dir" && exec taskset -c "$SERVER_CPU" "${CMD[@]}") >>"$out" 2>>"$log" &
  PID_OF[$t]=$!
  if ! ready "$t" "${PID_OF[$t]}"; then
    say "WARNING: $t failed to start; last lines of $log:"
    tail -n 15 "$log" | sed 's/^/#   /'
    stop_target "$t"
    return 1
  fi
}

# One load run, bounded (the tool's own limits, `timeout` as a backstop); its output in OUT.
load() { # OUT TARGET ARGS...
  local out=$1 t=$2
  shift 2
  run_child "$out" timeout -k 5 "${LOAD_LIMIT:-900}" taskset -c "$LOAD_CPU" "$NODE_BIN" "$MCP/mcp-load.mjs" \
    --url "$(url_of "$t")" --watch-pid "${PID_OF[$t]}" --server-cpus "$SERVER_CPU" --load-cpus "$LOAD_CPU" \
    --clk-tck "$CLK_TCK" "$@"
}
result_of() { # OUT: the RESULT fields, or a flagged empty one
  local r
  r=$(grep -m1 '^RESULT ' "$1" || true)
  echo "${r#RESULT }"
  [ -n "$r" ] || echo "rps=0 ok=0 errors=-1"
}
first_error() { # OUT TAG
  local e
  e=$(grep -m1 '^FIRST_ERROR ' "$1" || true)
  [ -z "$e" ] || echo "NOTE $2 ${e#FIRST_ERROR }" | tee -a "$RAW"
}
# "PID COMMAND TICKS" of every process: its cpu time and that of its reaped children (a build
# tool shows the compilers it ran); spaces in a command become "_".
proc_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '{ # (a process may exit under cat)
    o = index($0, "("); c = match($0, /\) [A-Za-z] /)
    n = substr($0, o + 1, c - o - 1); gsub(/ /, "_", n)
    split(substr($0, c + 2), f, " "); print $1, n, f[12] + f[13] + f[14] + f[15] }'
}
# Cpu seconds charged to processes that are not ours between two proc_ticks snapshots:
# "others_s=TOTAL others=NAME:SECONDSs,..." (the 3 largest). A reaped child's whole time is
# charged to its parent at once, so this tells that other work ran, not exactly when.
others_between() { # SNAPSHOT0 SNAPSHOT1
  local ours
  ours=$(tree_pids $$ | tr '\n' ' ') # this script, its targets and tools
  awk -v ours=" $ours " -v hz="$CLK_TCK" 'NR == FNR { a[$1] = $3; next }
    ($1 in a) && $3 > a[$1] && index(ours, " " $1 " ") == 0 { printf "%.2f %s\n", ($3 - a[$1]) / hz, $2 }' \
    <(echo "$1") <(echo "$2") | sort -rn | awk '{ s += $1 } NR <= 3 { top = top (NR > 1 ? "," : "") $2 ":" $1 "s" }
      END { printf "others_s=%.2f others=%s", s, (top == "" ? "none" : top) }'
}
idle_line() { # WHEN: cpu use over 1 s right now (targets idle), into RAW
  local t0 p0
  t0=$(ticks)
  p0=$(proc_ticks)
  sleep 1
  echo "IDLE when=$1 $(busy_fields "$t0" "$(ticks)") loadavg=$(cut -d' ' -f1 /proc/loadavg) $(others_between "$p0" "$(proc_ticks)")" | tee -a "$RAW"
}

# ---------------------------------------------------------------- record machine and versions
STARTUP_N=$((1 + ${#TARGETS[@]}))
EST=$((STARTUP_RUNS * STARTUP_N * 3))
for c in $CLIST; do EST=$((EST + 10 + RUNS * ${#TARGETS[@]} * (WARM_S + DUR_S + 2 + c / 3))); done
[ "$SOAK_REQUESTS" = 0 ] || EST=$((EST + ${#TARGETS[@]} * 10 + SOAK_REQUESTS / 500))
say_start "$EST" "targets: ${TARGETS[*]}; CLIST: $CLIST; runs=$RUNS x $DURATION (+$WARMUP warm-up); startup x$STARTUP_RUNS; soak $SOAK_REQUESTS requests at c=$SOAK_CONNS"
check_idle

SIDECAR_VERSION="-"
if [ "$SIDECAR" != none ]; then
  mkdir -p "$WORK/run-sidecar"
  SIDECAR_VERSION=$(sidecar_version "$SIDECAR" "$WORK/run-sidecar")
fi
pkg_version() { "$NODE_BIN" -p "require('$1/package.json').version" 2>/dev/null || echo '?'; }
meta_facts date_utc git_rev git_dirty
vars="RUNS DURATION WARMUP CLIST STARTUP_RUNS SOAK_REQUESTS SOAK_CONNS TARGETS_WANTED SIDECAR SIDECAR_EXTRA_ARGS NODE SERVER_CPU LOAD_CPU"
cmdline=$(command_line bench/mcp-bench.sh "$vars" "$@")
cmdline=${cmdline/TARGETS_WANTED=/TARGETS=}
[ "$QUICK" = 0 ] || cmdline=${cmdline/bench\/mcp-bench.sh/bench/mcp-bench.sh --quick}
meta command "$cmdline"
meta quick "$QUICK"
meta_facts cpu_model cores kernel debian os memory virtualization loadavg_start idle_check
meta node "$NODE_BIN $("$NODE_BIN" -v)"
meta npm "$(npm -v 2>/dev/null || echo '?')"
meta server_everything "$(pkg_version "$PEERS/node_modules/@modelcontextprotocol/server-everything")"
meta mcp_proxy "$(pkg_version "$PEERS_BENCH/node_modules/mcp-proxy")"
meta supergateway "$(pkg_version "$PEERS_BENCH/node_modules/supergateway")"
meta sdk_in_peers "$(for p in sdk server client; do
  printf '@modelcontextprotocol/%s %s\n' "$p" "$(pkg_version "$PEERS_BENCH/node_modules/@modelcontextprotocol/$p")"; done | paste -sd ',' - | sed 's/,/, /g')"
meta_sidecar "$SIDECAR" "$SIDECAR_VERSION"
meta targets "${TARGETS[*]}"
for t in child "${TARGETS[@]}"; do
  cmd_of "$t"
  meta "cmd_$t" "taskset -c $SERVER_CPU $(printf '%q ' "${CMD[@]}")"
done
meta_vars RUNS DURATION WARMUP CLIST STARTUP_RUNS SOAK_REQUESTS SOAK_CONNS SERVER_CPU LOAD_CPU
meta work_dir "$WORK"
cat "$META"

ABORT=""
# ---------------------------------------------------------------- 1. startup
# Rounds alternate the targets; each start is timed by mcp-startup.mjs (on the load cpu), which
# spawns the pinned command and stops its whole tree before returning. The sidecar starts with an
# empty state directory every time, as a fresh pod would.
say "startup: $STARTUP_RUNS round(s) of: child ${TARGETS[*]}"
idle_line startup
for run in $(seq 1 "$STARTUP_RUNS"); do
  for t in child "${TARGETS[@]}"; do
    cmd_of "$t"
    dir=$(dir_of "startup-$t")
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$t" = child ]; then how=(--stdio); else how=(--url "$(url_of "$t")"); fi
    out=$WORK/startup-$t-run$run.txt
    (cd "$dir" && exec timeout -k 5 90 taskset -c "$LOAD_CPU" "$NODE_BIN" "$MCP/mcp-startup.mjs" "${how[@]}" \
      --timeout 60 --log "$WORK/logs/startup-$t.log" -- taskset -c "$SERVER_CPU" "${CMD[@]}") >"$out" 2>&1 &
    CHILD_PID=$!
    reap_child
    r=$(grep -m1 '^STARTUP ' "$out" || true)
    if [ -n "$r" ]; then
      echo "RUN phase=startup target=$t run=$run ${r#STARTUP } ok=1" | tee -a "$RAW"
    else
      echo "RUN phase=startup target=$t run=$run ok=0" | tee -a "$RAW"
      echo "NOTE startup-$t-run$run $(grep -m1 . "$out" | tr -s ' ')" | tee -a "$RAW"
    fi
  done
done

# ---------------------------------------------------------------- 2. load
# Per concurrency: every target fresh, a correctness pre-flight, then RUNS rounds alternating
# the targets. Each run: warm-up, measured window; the tool measures cpu and RSS itself.
FIRST_C=${CLIST%% *}
for c in $CLIST; do
  [ -z "$ABORT" ] || break
  say "load c=$c: starting ${TARGETS[*]}"
  up=()
  for t in "${TARGETS[@]}"; do
    if start_target "$t"; then up+=("$t"); else echo "NOTE load-c$c $t failed to start (see logs/$t.log)" >>"$RAW"; fi
  done
  for t in "${up[@]}"; do pin_tree "$LOAD_CPU" "${PID_OF[$t]}"; done
  idle_line "load-c$c"
  for t in "${up[@]}"; do
    echo "MEM phase=load c=$c target=$t when=started rss_kb=$(awk '$1 == "VmRSS:" {print $2}' "/proc/${PID_OF[$t]}/status")" >>"$RAW"
  done
  if [ "$c" = "$FIRST_C" ]; then
    # Pre-flight: plain (unique ids) and with the same ids in every session, which is legal
    # (JSON-RPC ids are per session) and catches a bridge answering the wrong session.
    for t in "${up[@]}"; do
      place "$t"
      for ids in unique overlap; do
        out=$WORK/preflight-$t-$ids.txt
        LOAD_LIMIT=60 load "$out" "$t" -c 4 --duration 1 --warmup 0 --ids "$ids"
        echo "PREFLIGHT target=$t ids=$ids $(result_of "$out")" | tee -a "$RAW"
        first_error "$out" "preflight-$t-$ids"
      done
    done
  fi
  for run in $(seq 1 "$RUNS"); do
    for t in "${up[@]}"; do
      if ! kill -0 "${PID_OF[$t]}" 2>/dev/null; then
        ABORT="$t exited before c=$c run $run"
        break 2
      fi
      place "$t"
      out=$WORK/load-$t-c$c-run$run.txt
      p0=$(proc_ticks)
      LOAD_LIMIT=$((WARM_S + DUR_S + 120)) load "$out" "$t" -c "$c" --duration "$DUR_S" --warmup "$WARM_S"
      echo "RUN phase=load target=$t c=$c run=$run $(result_of "$out") loadavg=$(cut -d' ' -f1 /proc/loadavg) $(others_between "$p0" "$(proc_ticks)")" | tee -a "$RAW"
      first_error "$out" "load-$t-c$c-run$run"
    done
  done
  for t in "${up[@]}"; do
    kill -0 "${PID_OF[$t]}" 2>/dev/null || ABORT=${ABORT:-"$t exited during c=$c"}
    stop_target "$t"
  done
done

# ---------------------------------------------------------------- 3. soak
# One target at a time, fresh, alone on the machine besides the load tool.
if [ "$SOAK_REQUESTS" -gt 0 ] && [ -z "$ABORT" ]; then
  every=$(( SOAK_REQUESTS / 10 > 0 ? SOAK_REQUESTS / 10 : 1 ))
  for t in "${TARGETS[@]}"; do
    say "soak: $t, $SOAK_REQUESTS requests at c=$SOAK_CONNS"
    start_target "$t" || { echo "NOTE soak $t failed to start" >>"$RAW"; continue; }
    sleep 1 # let start-up work settle before the first sample
    idle_line "soak-$t"
    out=$WORK/soak-$t.txt
    p0=$(proc_ticks)
    LOAD_LIMIT=1800 load "$out" "$t" -c "$SOAK_CONNS" --requests "$SOAK_REQUESTS" --sample-every "$every" --max-seconds 1500
    sed -n "s/^SAMPLE /SAMPLE target=$t /p" "$out" >>"$RAW"
    echo "RUN phase=soak target=$t c=$SOAK_CONNS run=1 $(result_of "$out") loadavg=$(cut -d' ' -f1 /proc/loadavg) $(others_between "$p0" "$(proc_ticks)")" | tee -a "$RAW"
    first_error "$out" "soak-$t"
    kill -0 "${PID_OF[$t]}" 2>/dev/null || echo "NOTE soak $t exited during the soak" >>"$RAW"
    stop_target "$t"
  done
fi

# ---------------------------------------------------------------- report
meta_end
meta sidecar_state_size "$(du -sh "$(dir_of sidecar)" 2>/dev/null | cut -f1)"
meta logs "$WORK/logs"
REPORTED=1
write_report mcp mcp/summarize.py
