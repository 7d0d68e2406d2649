# shellcheck shell=bash
# lib.sh - the helpers bench/http-bench.sh and bench/signed-bench.sh share. Functions only:
# sourcing this file defines them and does nothing else.
#
# The caller sets, before using them:
#   BENCH        the bench folder (absolute); then it calls bench_init NAME "$@", where NAME
#                ("http-bench", "signed-bench") becomes PROG, the prefix of its messages
#   NGINX WORK (find_nginx, init_work), ABORT, PIDS (every server it started and has not stopped
#   yet) and CHILD_PID (the one bounded child running now, or "")
# Functions that set globals say so.

say() { echo "# $*"; }
say_start() { # SECONDS (the expected duration) WHAT (what runs): the first lines of a benchmark
  say "mcp-sidecar $PROG: work dir $WORK"
  say "$2"
  say "expected duration: about $(($1 / 60)) min $(($1 % 60)) s"
}
die() { echo "$PROG: $*" >&2; exit 1; }

# Call first, with the script's name and arguments: -h/--help prints the script's header comment,
# more than one argument the usage. Sets PROG, REPO and the settings both benchmarks have (from
# the environment, or their defaults), READY_SECS (how long a server may take to answer after
# start) and UP_PORT (the trivial nginx upstream's port).
bench_init() { # PROG "$@"
  PROG=$1
  shift
  case "${1:-}" in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
  [ $# -le 1 ] || { echo "usage: $0 [WORK_DIR]" >&2; exit 2; }
  REPO=$(cd "$BENCH/.." && pwd)
  RUNS=${RUNS:-5}
  DURATION=${DURATION:-10s}
  WARMUP=${WARMUP:-2s}
  CONNS=${CONNS:-50}
  SERVER_CPU=${SERVER_CPU:-0}
  LOAD_CPU=${LOAD_CPU:-1}
  RESULTS_DIR=${RESULTS_DIR:-$BENCH/results}
  SIDECAR=${SIDECAR:-$REPO/build/mcp-sidecar}
  READY_SECS=20
  # shellcheck disable=SC2034 # read by the callers
  UP_PORT=18081
}

# ---------------------------------------------------------------- arguments and requirements
secs_of() { # 10, 10s, 2m, 1h (wrk's durations) -> whole seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (got '$2')"; }
durations() { # NAMES VALUE...: each VALUE looks like 10, 10s, 1m; NAMES for the message
  local names=$1 d
  shift
  for d in "$@"; do
    [[ $d =~ ^[0-9]+[smh]?$ ]] || die "$names must look like 10, 10s, 1m (got '$d')"
  done
}
check_cpus() { # SERVER_CPU and LOAD_CPU differ and are online
  local c
  [ "$SERVER_CPU" != "$LOAD_CPU" ] || die "SERVER_CPU and LOAD_CPU must differ"
  for c in "$SERVER_CPU" "$LOAD_CPU"; do
    grep -q "^cpu$c " /proc/stat || die "cpu$c is not online (this benchmark needs 2 cores; see SERVER_CPU/LOAD_CPU)"
  done
}

# Sets NGINX (empty when there is none) and appends to the caller's array `missing`.
find_nginx() {
  local p
  NGINX=$(command -v nginx || true)
  for p in /usr/sbin/nginx /usr/local/sbin/nginx; do [ -n "$NGINX" ] || [ ! -x "$p" ] || NGINX=$p; done
  [ -n "$NGINX" ] || missing+=("nginx    -> apt-get install -y nginx-light")
}
need_tools() { # the tools both benchmarks run, into the caller's array `missing`
  command -v taskset >/dev/null || missing+=("taskset  -> apt-get install -y util-linux")
  command -v pgrep >/dev/null || missing+=("pgrep    -> apt-get install -y procps")
  command -v curl >/dev/null || missing+=("curl     -> apt-get install -y curl")
  command -v python3 >/dev/null || missing+=("python3  -> apt-get install -y python3")
  command -v timeout >/dev/null || missing+=("timeout  -> apt-get install -y coreutils")
}
missing_exit() { # HINT: when the caller's array `missing` is not empty, list it (and HINT), exit 1
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$PROG: missing requirements:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  [ -z "$1" ] || echo "$1" >&2
  exit 1
}

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports_free() { # PORT...: die when one is in use
  local p
  for p in "$@"; do
    ! port_busy "$p" || die "127.0.0.1:$p is already in use; stop whatever listens there first"
  done
}

# WORK made absolute and readable (nginx -p needs an absolute prefix; its workers run as nobody
# when started by root); sets RAW and META (both emptied), STAMP and REV.
init_work() {
  mkdir -p "$WORK"
  WORK=$(cd "$WORK" && pwd)
  chmod 755 "$WORK"
  RAW=$WORK/raw.txt META=$WORK/meta.txt
  : >"$RAW"
  : >"$META"
  STAMP=$(date -u +%Y%m%dT%H%M%SZ)
  REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo norev)
}

# ---------------------------------------------------------------- processes and cleanup
stop_pids() { # PID...: TERM, up to 5 s for a clean exit, then KILL (children too)
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
      echo "$PROG: pid $pid did not stop on TERM; killing it" >&2
      for c in $(pgrep -P "$pid" || true); do kill -KILL "$c" 2>/dev/null || true; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
cleanup() { # the EXIT trap: the running child and every server, then exit with the status
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$CHILD_PID" ] || kill -TERM "$CHILD_PID" 2>/dev/null || true
  [ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"
  wait 2>/dev/null || true
  exit "$rc"
}
set_traps() {
  trap cleanup EXIT
  trap 'echo "$PROG: interrupted" >&2; exit 130' INT
  trap 'echo "$PROG: terminated" >&2; exit 143' TERM
}
run_child() { # OUTFILE COMMAND...: in the background as CHILD_PID (killable from the traps); waits
  "${@:2}" >"$1" 2>&1 &
  CHILD_PID=$!
  reap_child
}
reap_child() { wait "$CHILD_PID" || true; CHILD_PID=""; }

# Every thread of each process and of its children (nginx workers) goes to the cpu list $1.
pin() {
  local cpus=$1 pid c
  shift
  for pid in "$@"; do
    taskset -a -p -c "$cpus" "$pid" >/dev/null
    for c in $(pgrep -P "$pid" || true); do taskset -a -p -c "$cpus" "$c" >/dev/null; done
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
# "ours" when process $1 (or a child) holds every listening socket on port $2, "none" when nobody
# listens, "foreign" otherwise: answers from a server someone else started (a second benchmark
# started at the same moment) must not be taken for ours.
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

# Until PID holds PORTS and one URL answers 200; sets READY_VIA to that URL.
wait_ready() { # NAME PID "PORTS" URL...
  local name=$1 pid=$2 want=$3 _ u p owned
  shift 3
  for _ in $(seq 1 $((READY_SECS * 10))); do
    kill -0 "$pid" 2>/dev/null || return 1
    owned=1
    for p in $want; do
      case $(port_state "$pid" "$p") in
        foreign)
          echo "$PROG: another process listens on port $p (not the $name this script started); stop it first" >&2
          return 1
          ;;
        none) owned=0 ;;
      esac
    done
    if [ "$owned" = 1 ]; then
      for u in "$@"; do
        if [ "$(http_code "$u")" = 200 ]; then
          # shellcheck disable=SC2034 # read by the caller
          READY_VIA=$u
          return 0
        fi
      done
    fi
    sleep 0.1
  done
  echo "$PROG: $name did not answer 200 within ${READY_SECS}s on: $*" >&2
  return 1
}

server_failed() { # NAME LOG
  echo "$PROG: $1 failed to start; last lines of $2:" >&2
  tail -n 20 "$2" >&2 || true
  exit 1
}

start_nginx() { # NAME CONF CPU: WORK/NAME as prefix, bench/nginx/CONF; sets LAST_PID
  local dir=$WORK/$1
  mkdir -p "$dir/logs"
  taskset -c "$3" "$NGINX" -p "$dir/" -e "$dir/logs/error.log" -c "$BENCH/nginx/$2" \
    -g 'daemon off;' >"$dir/logs/stdout.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

start_upstream() { # CPU: the trivial nginx upstream (bench/nginx/upstream.conf) on CPU; sets UP_PID
  start_nginx upstream upstream.conf "$1"
  UP_PID=$LAST_PID
  wait_ready upstream "$UP_PID" "$UP_PORT" "http://127.0.0.1:$UP_PORT/" || server_failed upstream "$WORK/upstream/logs/error.log"
}

# mcp-sidecar (COMMAND... starts it) in DIR, inside WORK, so that its default ./.mcp-sidecar
# state lands there; no AIM platform is contacted, whatever the caller's environment says.
# Output appended to LOG; sets LAST_PID.
start_sidecar() { # DIR LOG COMMAND...
  (cd "$1" && exec env -u AIM_URL -u AIM_API_KEY "${@:3}") >>"$2" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# ---------------------------------------------------------------- cpu counters
# /proc/stat ticks of both cpus: "server_total server_idle server_steal load_total load_idle
# load_steal"; busy = everything but idle and iowait (steal counts as busy; reported separately).
ticks() {
  awk -v s="cpu$SERVER_CPU" -v l="cpu$LOAD_CPU" '
    $1 == s || $1 == l { t = 0; for (i = 2; i <= 9; i++) t += $i
                         tot[$1] = t; idle[$1] = $5 + $6; steal[$1] = $9 }
    END { printf "%d %d %d %d %d %d\n", tot[s], idle[s], steal[s], tot[l], idle[l], steal[l] }' /proc/stat
}
# "before" "after" [server|both] -> server_busy=.. load_busy=.. steal=.. where steal is the
# server cpu's share (server, the default) or the share of both cpus together (both).
busy_fields() {
  awk -v a="$1" -v b="$2" -v scope="${3:-server}" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    ds = y[1] - x[1]; dl = y[4] - x[4]; if (ds <= 0) ds = 1; if (dl <= 0) dl = 1
    st = scope == "both" ? 100 * (y[3] - x[3] + y[6] - x[6]) / (ds + dl) : 100 * (y[3] - x[3]) / ds
    printf "server_busy=%.1f load_busy=%.1f steal=%.1f",
      100 * (ds - (y[2] - x[2])) / ds, 100 * (dl - (y[5] - x[5])) / dl, st }'
}
# Both cpus should be idle before anything starts: other work on them skews every number.
# Measured over 1 s; sets IDLE_CHECK (recorded in the report).
check_idle() {
  local t0
  t0=$(ticks)
  sleep 1
  IDLE_CHECK=$(busy_fields "$t0" "$(ticks)")
  IDLE_CHECK=${IDLE_CHECK% steal=*}
  if awk -v l="$IDLE_CHECK" 'BEGIN { n = split(l, f, /[= ]/); for (i = 2; i <= n; i += 2) if (f[i] + 0 > 10) exit 0; exit 1 }'; then
    say "WARNING: the machine is not idle before the benchmark ($IDLE_CHECK over 1 s): expect noisy numbers"
    IDLE_CHECK+=" (NOT IDLE)"
  fi
}

# ---------------------------------------------------------------- machine and versions
meta() { printf '%s=%s\n' "$1" "$2" >>"$META"; }
meta_vars() { # VAR...: lower-case name = value
  local v
  for v in "$@"; do meta "${v,,}" "${!v}"; done
}
command_line() { # SCRIPT "VARS" [ARG]: how to run SCRIPT again with these settings
  local v line=""
  for v in $2; do line+="$v=$(printf '%q' "${!v}") "; done
  line+=$1
  [ $# -lt 3 ] || line+=" $(printf '%q' "$3")"
  echo "$line"
}
meta_facts() { # FACT...: facts about this machine and run, in the order given
  local k
  for k in "$@"; do
    case $k in
      date_utc) meta "$k" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" ;;
      git_rev) meta "$k" "$REV" ;;
      git_dirty) meta "$k" "$(if [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null | grep -v ' bench/results/' || true)" ]; then echo yes; else echo no; fi)" ;;
      cpu_model) meta "$k" "$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)" ;;
      cores) meta "$k" "$(nproc)" ;;
      kernel) meta "$k" "$(uname -r)" ;;
      debian) meta "$k" "$(cat /etc/debian_version 2>/dev/null || echo '?')" ;;
      os) meta "$k" "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')" ;;
      memory) meta "$k" "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" ;;
      virtualization) meta "$k" "$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n 1)" ;;
      loadavg_start | loadavg_end) meta "$k" "$(cut -d' ' -f1-3 /proc/loadavg)" ;;
      idle_check) meta "$k" "$IDLE_CHECK" ;;
      nginx) meta "$k" "$("$NGINX" -v 2>&1 | head -n 1)" ;;
      gcc) meta "$k" "$(gcc --version 2>/dev/null | head -n 1 || echo 'not found')" ;;
      *) die "meta_facts: unknown fact '$k'" ;;
    esac
  done
}
sidecar_version() { # BINARY DIR: the first lines of `BINARY --version`, run in DIR, on one line
  (cd "$2" && { timeout 5 "$1" --version 2>&1 || true; } | head -n 3 | paste -sd ' ' -)
}
meta_sidecar() { # BINARY VERSION: path and version; hash and build type unless BINARY is "none"
  meta sidecar_path "$1"
  meta sidecar_version "$2"
  [ "$1" != none ] || return 0
  meta sidecar_sha256 "$(sha256sum "$1" | cut -c1-16)"
  meta sidecar_build_type "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$1")/CMakeCache.txt" 2>/dev/null || true)"
}

# ---------------------------------------------------------------- report
# ABORT (the reason the runs stopped early, or "") and the end of the run into META.
meta_end() {
  [ -z "$ABORT" ] || echo "$PROG: ABORTED: $ABORT" >&2
  meta_facts loadavg_end
  meta aborted "$ABORT"
}
# RESULTS_DIR/PREFIX-STAMP-REV.md from bench/SUMMARIZER; exits 1 when the runs were aborted.
write_report() { # PREFIX SUMMARIZER
  local report=$RESULTS_DIR/$1-$STAMP-$REV.md
  mkdir -p "$RESULTS_DIR"
  python3 "$BENCH/$2" "$META" "$RAW" >"$report"
  say "report: $report"
  say "raw runs and logs: $WORK"
  [ -z "$ABORT" ] || exit 1
}
