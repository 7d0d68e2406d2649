#!/usr/bin/env bash
# Differential conformance test: runs the official MCP conformance suite and the MCP Inspector
# CLI against a real MCP server directly and through mcp-sidecar, and fails when the sidecar
# makes anything worse.
#
#   tests/conformance/run.sh BINARY [http|stdio] [conformance|inspector|all]
#
# BINARY is the built mcp-sidecar. The mode picks what stands behind the sidecar:
#   http   server-everything over Streamable HTTP (--upstream http://127.0.0.1:PORT/mcp);
#   stdio  server-everything over stdio, spawned by the sidecar (serve ... -- node ... stdio);
#          the direct run it is compared with is still server-everything over Streamable HTTP,
#          as no conformance client speaks stdio.
# The part picks what runs (default all):
#   conformance  the suite's default (active) scenarios, direct and via the sidecar, compared
#                check by check by compare.mjs (a check passing directly and not through the
#                sidecar, or failing with another message, fails the test); differences that
#                are expected are listed, each with its reason, in expected-differences.txt;
#   inspector    Inspector CLI calls (tools/list; tools/call of echo, of echo with a wrong
#                argument type, of get-tiny-image) through the sidecar, their output checked and
#                compared with the same calls made directly; in stdio mode also
#                server-filesystem behind a second sidecar (a file inside its root is read, one
#                outside is refused), and the caller's side: the Inspector launching
#                `mcp-sidecar connect` as its stdio server against a sidecar that enforces
#                signatures (tools/list and tools/call succeed; a pinned key that is not the
#                server's, and a relay that changes a byte of each answer, are both errors); and
#                DNS-rebinding probes with curl (evil Host/Origin get a 4xx, the sidecar's own
#                loopback name gets a 2xx).
#
# Every process is started in its own process group with its working directory in a scratch
# directory; on exit each group is stopped (the sidecar with SIGTERM first, which must end it
# with status 0 and take its stdio child with it), and any process still running in the scratch
# directory fails the test. Env: MCP_SIDECAR_TEST_TIMEOUT_SCALE (deadline multiplier, default 1),
# MCP_SIDECAR_CONFORMANCE_KEEP=1 (keep the scratch directory; it is also kept on failure),
# MCP_SIDECAR_PEERS (where the npm peers live, default .peers).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd)
say() { echo "conformance: $*" >&2; }

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  sed -n '6p' "$0" >&2
  exit 2
fi
binary=$1 mode=${2:-http} part=${3:-all}
case "$mode" in http | stdio) ;; *) say "mode must be http or stdio, not '$mode'"; exit 2 ;; esac
case "$part" in conformance | inspector | all) ;; *) say "unknown part '$part'"; exit 2 ;; esac
[ -x "$binary" ] || { say "not an executable: $binary (build mcp-sidecar first)"; exit 1; }
binary=$(cd "$(dirname "$binary")" && pwd -P)/$(basename "$binary")
scale=${MCP_SIDECAR_TEST_TIMEOUT_SCALE:-1}

# Peers (pinned in scripts/install-peers.sh) and Node >= 22; both are no-ops once installed.
peers=$("$root/scripts/install-peers.sh")
node_dir=$("$root/scripts/node22.sh")
node=$node_dir/node
PATH="$node_dir:$PATH"
export PATH
mcp=$peers/node_modules/@modelcontextprotocol
every=$mcp/server-everything/dist/index.js
filesystem=$mcp/server-filesystem/dist/index.js
conformance=$mcp/conformance/dist/index.js
inspector=$mcp/inspector/clients/launcher/build/index.js
for f in "$every" "$filesystem" "$conformance" "$inspector"; do
  [ -f "$f" ] || { say "missing $f: run scripts/install-peers.sh"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance.XXXXXX")
mkdir -p "$work/run" "$work/home"
failures=()
fail() { failures+=("$*"); say "FAIL: $*"; }

# ---- processes ----------------------------------------------------------------------------
groups=() # leaders of the process groups we started, in start order

# alive PID: the process exists and is not a zombie (a dead child stays a zombie until waited
# for, and `kill -0` succeeds on zombies).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# start LOG CMD...: runs CMD in a new process group (setsid, without forking: a background job
# of a non-interactive shell is no group leader) with the scratch directory as working
# directory; sets `started` to its pid, which is also the group id.
start() {
  local log=$1
  shift
  (cd "$work/run" && exec setsid "$@" >"$log" 2>&1 </dev/null) &
  started=$!
  groups+=("$started")
}

# reaped PID: waits for the exited process PID and drops it from `groups` (its pid may be
# reused by then, so cleanup must not signal it); sets `status` to its exit status.
reaped() {
  local g kept=()
  status=0
  wait "$1" 2>/dev/null || status=$?
  for g in "${groups[@]}"; do [ "$g" = "$1" ] || kept+=("$g"); done
  groups=("${kept[@]}")
}

# stop PID [leader]: SIGTERM to the process group PID (with `leader`, to the process alone: the
# sidecar stops its own children), waits up to 10 s, then kills the group. Sets `stopped` to the
# exit status ("killed" when it had to be).
stop() {
  local pid=$1 how=${2:-group} i
  stopped=
  if [ "$how" = leader ]; then
    kill -TERM "$pid" 2>/dev/null || true
  else
    kill -TERM -- "-$pid" 2>/dev/null || true
  fi
  for ((i = 0; i < 100 * scale; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    stopped=killed
  fi
  kill -KILL -- "-$pid" 2>/dev/null || true # whatever else of the group is left
  reaped "$pid"
  [ -n "$stopped" ] || stopped=$status
}

# Processes still running in the scratch directory (or naming it): our leftovers.
leftovers() {
  local p pid cwd
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    if [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; then continue; fi
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    if [[ "$cwd" == "$work"* ]] || tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$work"; then
      alive "$pid" && echo "$pid $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
    fi
  done
  return 0
}

cleanup() {
  local rc=$? pid left
  trap - EXIT INT TERM
  for pid in "${groups[@]}"; do
    if alive "$pid"; then stop "$pid"; else reaped "$pid"; fi
  done
  left=$(leftovers)
  if [ -n "$left" ]; then
    say "FAIL: processes left running after the test (killed now):"
    echo "$left" >&2
    awk '{print $1}' <<<"$left" | xargs -r kill -KILL 2>/dev/null || true
    rc=1
  fi
  if [ "$rc" -eq 0 ] && [ "${MCP_SIDECAR_CONFORMANCE_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
  else
    say "scratch directory kept: $work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$node" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_for PID LOG PATTERN WHAT: until LOG matches PATTERN; fails when the process exits first
# or after 20 s (scaled).
wait_for() {
  local pid=$1 log=$2 pattern=$3 what=$4 i
  for ((i = 0; i < 200 * scale; i++)); do
    grep -q "$pattern" "$log" 2>/dev/null && return 0
    if ! alive "$pid"; then
      reaped "$pid"
      say "$what exited (status $status) before it was ready; its output:"
      sed 's/^/    /' "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  say "$what was not ready after $((20 * scale)) s; its output:"
  sed 's/^/    /' "$log" >&2
  return 1
}

# start_everything_http: server-everything over Streamable HTTP on a free loopback port; sets
# `every_port`. A port taken between the probe and the bind is retried.
start_everything_http() {
  for _ in 1 2 3; do
    every_port=$(free_port)
    start "$work/everything-http.log" env "PORT=$every_port" "$node" "$every" streamableHttp
    if wait_for "$started" "$work/everything-http.log" "listening on port" \
      "server-everything (streamableHttp)"; then
      every_pid=$started
      return 0
    fi
    grep -q "already in use" "$work/everything-http.log" || return 1
  done
  return 1
}

# start_sidecar NAME UPSTREAM_ARGS...: mcp-sidecar with verification off on a port it picks;
# sets `sidecar_pid` and `sidecar_port`. Fails, saying why, when the sidecar does not start.
verify_args=(--verify off) # start_sidecar's verification; the connect checks enforce signatures
start_sidecar() {
  local name=$1
  shift
  local log=$work/$name.log
  start "$log" "$binary" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 "${verify_args[@]}" \
    --drain-timeout 5 "$@"
  sidecar_pid=$started
  if ! wait_for "$sidecar_pid" "$log" '"msg":"listening"' "mcp-sidecar ($name)"; then
    say "mcp-sidecar did not start: $binary serve ... $*"
    [ "$mode" = stdio ] && say "(stdio mode needs a sidecar that serves a stdio MCP server given after --)"
    return 1
  fi
  sidecar_port=$(sed -n 's/.*"msg":"listening".*"listen":"[^"]*:\([0-9][0-9]*\)".*/\1/p' "$log" | head -1)
  [ -n "$sidecar_port" ] || { say "no port in the sidecar's listening line:"; grep listening "$log" >&2; return 1; }
}

# stop_sidecar NAME PID: SIGTERM, which must end the sidecar with status 0 (and its stdio child).
stop_sidecar() {
  local name=$1 pid=$2
  if ! alive "$pid"; then
    reaped "$pid"
    fail "mcp-sidecar ($name) died during the test with status $status"
    tail -n 30 "$work/$name.log" | sed 's/^/    /' >&2
    return
  fi
  stop "$pid" leader
  if [ "$stopped" != 0 ]; then
    fail "mcp-sidecar ($name) ended with status $stopped after SIGTERM (expected 0)"
    tail -n 30 "$work/$name.log" | sed 's/^/    /' >&2
  fi
}

# The stdio servers the sidecar spawns: absolute paths, as the child may get a reduced PATH.
sidecar_every_stdio=(-- "$node" "$every" stdio)
upstream_args() {
  if [ "$mode" = http ]; then echo "--upstream"; echo "http://127.0.0.1:$every_port/mcp"; else printf '%s\n' "${sidecar_every_stdio[@]}"; fi
}

# ---- conformance --------------------------------------------------------------------------
# suite NAME URL: one run of the default (active) suite into $work/NAME.
suite() {
  local name=$1 url=$2 st=0
  say "conformance suite against $url ($name)"
  (cd "$work/run" && timeout -k 5 $((90 * scale)) "$node" "$conformance" server --url "$url" \
    -o "$work/$name" --timeout $((15000 * scale))) >"$work/$name.out" 2>&1 || st=$?
  # Exit 1 only says that some check failed, which the direct run always has.
  if [ "$st" -ne 0 ] && [ "$st" -ne 1 ]; then
    fail "conformance run '$name' ended with status $st$([ "$st" -eq 124 ] && echo ' (timed out)')"
    tail -n 20 "$work/$name.out" | sed 's/^/    /' >&2
  fi
  mkdir -p "$work/$name"
}

run_conformance() {
  suite direct "http://localhost:$every_port/mcp"
  local -a up
  mapfile -t up < <(upstream_args)
  if ! start_sidecar "sidecar-$mode-conformance" "${up[@]}"; then
    fail "mcp-sidecar ($mode) did not start"
    return
  fi
  suite "via-$mode" "http://localhost:$sidecar_port/mcp"
  stop_sidecar "sidecar-$mode-conformance" "$sidecar_pid"
  # A direct run that passes almost nothing means the setup is broken, and a differential
  # against it would pass vacuously. 45 of 65 was measured with the pins (docs/testing.md).
  local passed
  passed=$(cat "$work"/direct/*/checks.json 2>/dev/null | grep -c '"status": "SUCCESS"' || true)
  [ "$passed" -ge 40 ] || fail "the direct run passed only $passed checks (expected about 45): the setup is broken"
  "$node" "$here/compare.mjs" --direct "$work/direct" --via "$work/via-$mode" --mode "$mode" \
    --expected "$here/expected-differences.txt" >&2 || fail "conformance through the sidecar ($mode) is worse than direct (see above)"
}

# ---- inspector ----------------------------------------------------------------------------
checks_run=0 checks_failed=0
check() { # NAME STATUS: records one Inspector or curl check (STATUS 0: passed)
  checks_run=$((checks_run + 1))
  if [ "$2" = 0 ]; then
    say "  ok    $1"
  else
    checks_failed=$((checks_failed + 1))
    fail "$1"
  fi
}

# inspect OUT TARGET... -- INSPECTOR-ARGS...: one Inspector CLI call; stdout in OUT.json, stderr
# in OUT.err, exit status in OUT.rc. HOME points into the scratch directory: the Inspector keeps
# a catalog and client config under ~/.mcp-inspector.
inspect() {
  local out=$work/inspector/$1 st=0
  shift
  mkdir -p "$work/inspector"
  (cd "$work/run" && HOME=$work/home timeout -k 5 $((40 * scale)) "$node" "$inspector" --cli "$@" \
    --format json --stored-auth-only --connect-timeout $((15000 * scale))) >"$out.json" 2>"$out.err" </dev/null || st=$?
  echo "$st" >"$out.rc"
}

# js OUT EXPR: evaluates EXPR with `r` the parsed OUT.json, `rc` its exit status, `err` its
# stderr, and `want` the environment variable WANT (expected text, kept out of the expression).
js() {
  local out=$work/inspector/$1
  "$node" -e '
    const fs = require("fs");
    const [out, expr] = process.argv.slice(1);
    let r = null;
    try { r = JSON.parse(fs.readFileSync(out + ".json", "utf8")); } catch {}
    const rc = Number(fs.readFileSync(out + ".rc", "utf8"));
    const err = fs.readFileSync(out + ".err", "utf8");
    const want = process.env.WANT;
    process.exit(eval(expr) ? 0 : 1);
  ' "$out" "$2"
}

# same A B: the two calls exited alike and printed the same JSON (keys sorted, as a proxy may
# reorder members). For a tools/list, ADDED and REMOVED (comma-separated tool names) are a
# difference B must show exactly: those tools present only in B, respectively only in A.
same() {
  # shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
  "$node" -e '
    const fs = require("fs");
    const [a, b] = process.argv.slice(1);
    const names = (v) => (v ? v.split(",") : []);
    const added = names(process.env.ADDED), removed = names(process.env.REMOVED);
    const canon = (v) => Array.isArray(v) ? v.map(canon) : v && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v;
    const read = (p) => { try { return JSON.parse(fs.readFileSync(p + ".json", "utf8")); } catch { return "unparsable"; } };
    const ra = read(a), rb = read(b);
    if (added.length || removed.length) {
      const ta = ra?.result?.tools ?? [], tb = rb?.result?.tools ?? [];
      const na = ta.map((t) => t.name), nb = tb.map((t) => t.name);
      const onlyB = nb.filter((n) => !na.includes(n)), onlyA = na.filter((n) => !nb.includes(n));
      const want = (x, y) => x.slice().sort().join() === y.slice().sort().join();
      if (!want(onlyB, added) || !want(onlyA, removed)) {
        console.error(`    tools only through the sidecar: ${onlyB.join(" ") || "none"} (expected ${added.join(" ") || "none"}); ` +
          `only direct: ${onlyA.join(" ") || "none"} (expected ${removed.join(" ") || "none"})`);
        process.exit(1);
      }
      ra.result.tools = ta.filter((t) => !removed.includes(t.name));
      rb.result.tools = tb.filter((t) => !added.includes(t.name));
    }
    const same = JSON.stringify(canon(ra)) === JSON.stringify(canon(rb)) &&
      fs.readFileSync(a + ".rc", "utf8") === fs.readFileSync(b + ".rc", "utf8");
    process.exit(same ? 0 : 1);
  ' "$work/inspector/$1" "$work/inspector/$2"
}

# show OUT: what a failed call printed, for the log.
show() {
  local out=$work/inspector/$1
  echo "    $1: exit $(cat "$out.rc"); stdout: $(head -c 600 "$out.json"); stderr: $(tail -c 600 "$out.err" | tr '\n' ' ')" >&2
}

expect() { # NAME OUT EXPR
  local st=0
  js "$2" "$3" || st=$?
  check "$1" "$st"
  [ "$st" = 0 ] || show "$2"
}

expect_same() { # NAME A B
  local st=0
  same "$2" "$3" || st=$?
  check "$1" "$st"
  [ "$st" = 0 ] || { show "$2"; show "$3"; }
}

# Calls against one MCP endpoint of server-everything: PREFIX names the outputs, the rest is the
# Inspector target (a URL with --transport http, or a stdio command).
everything_calls() {
  local p=$1
  shift
  inspect "$p-tools-list" "$@" --method tools/list
  inspect "$p-echo" "$@" --method tools/call --tool-name echo --tool-args-json "$echo_args"
  # A number where echo wants a string: the server answers isError (the Inspector exits 5). An
  # unknown tool would not do: the Inspector refuses it itself, after tools/list.
  inspect "$p-bad-args" "$@" --method tools/call --tool-name echo --tool-args-json '{"message":5}'
  inspect "$p-image" "$@" --method tools/call --tool-name get-tiny-image
}

# The echo argument mixes quotes, a backslash, markup and non-ASCII, so re-encoding shows up.
echo_msg='héllo "sidecar" ✓ <&> \ end'
echo_args=$("$node" -e 'console.log(JSON.stringify({message: process.argv[1]}))' "$echo_msg")

# rebinding PORT: curl probes of the sidecar's Host and Origin checks (DNS rebinding,
# mcp-transport.md §1.1), each an otherwise valid `initialize`.
rebinding() {
  local port=$1 code
  local body='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"rebinding-probe","version":"1"}}}'
  probe() {
    curl -s -o "$work/probe.body" -w '%{http_code}' --max-time $((10 * scale)) -X POST \
      "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
      -H 'Accept: application/json, text/event-stream' "$@" --data "$body" || echo "000"
  }
  # status CODE PATTERN: 0 when the HTTP status matches the glob, else 1 (for `check`).
  # shellcheck disable=SC2254 # the pattern is a glob on purpose
  status() { case $1 in $2) echo 0 ;; *) echo 1 ;; esac; }
  code=$(probe -H 'Host: evil.example.com' -H 'Origin: http://evil.example.com')
  check "Host evil.example.com + Origin http://evil.example.com get a 4xx (got $code)" \
    "$(status "$code" '4??')"
  code=$(probe -H "Host: localhost:$port" -H 'Origin: http://evil.example.com')
  check "Host localhost:$port + Origin http://evil.example.com get 403 (got $code)" \
    "$(status "$code" 403)"
  code=$(probe -H 'Host: evil.example.com')
  check "Host evil.example.com without Origin gets a 4xx (got $code)" "$(status "$code" '4??')"
  code=$(probe -H "Host: localhost:$port" -H "Origin: http://localhost:$port")
  check "Host localhost:$port + Origin http://localhost:$port get a 2xx (got $code)" \
    "$(status "$code" '2??')"
}

# The caller's side end to end: the Inspector CLI launches `mcp-sidecar connect` as its stdio
# server, which signs every request to `mcp-sidecar serve` (signatures enforced) in front of
# server-everything and checks every answer. Then the same with a pinned key that is not the
# server's, and through a relay that changes one byte of each answer: both must reach the
# Inspector as errors, never as results.
run_connect() {
  local store=$work/connect/trust.yaml key=$work/connect/caller.key other=$work/connect/other.key
  mkdir -p "$work/connect/home"
  "$binary" keygen --out "$key" >"$work/connect/keygen.out" 2>&1
  "$binary" keygen --out "$other" >"$work/connect/other.out" 2>&1
  local pub other_pub
  pub=$(sed -n 's/^public_key: //p' "$work/connect/keygen.out")
  other_pub=$(sed -n 's/^public_key: //p' "$work/connect/other.out")
  printf 'keys:\n  - id: carol\n    public_key: "%s"\n' "$pub" >"$store"
  verify_args=(--verify enforce --trust-store "$store")
  if ! start_sidecar sidecar-connect --state-dir "$work/connect/state" -- "$node" "$every" stdio; then
    verify_args=(--verify off)
    fail "mcp-sidecar (enforce, for connect) did not start"
    return
  fi
  verify_args=(--verify off)
  local url="http://127.0.0.1:$sidecar_port/mcp" server_pub
  server_pub=$(curl -s "http://127.0.0.1:$sidecar_port/.well-known/mcp/capabilities" |
    "$node" -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s).server.public_key_base64))')
  say "Inspector CLI launching mcp-sidecar connect $url (signatures enforced)"
  # connect keeps the server keys it learns under $XDG_CONFIG_HOME: a scratch one. (No
  # --log-level for connect here: the Inspector takes that flag as its own.)
  local -a conn=(env "XDG_CONFIG_HOME=$work/connect/home" "$binary" connect "$url" --key "$key"
    --key-id carol)
  inspect connect-list "${conn[@]}" --method tools/list
  inspect connect-echo "${conn[@]}" --method tools/call --tool-name echo --tool-arg "message=$echo_msg"
  expect "tools/list through connect lists echo" connect-list \
    'rc === 0 && r.result.tools.some((t) => t.name === "echo")'
  WANT="Echo: $echo_msg" expect "tools/call echo through connect echoes the message" connect-echo \
    'rc === 0 && r.result.content[0].text === want'
  local kept=1
  grep -qF -- "$server_pub" "$work/connect/home/mcp-sidecar/known_servers" 2>/dev/null && kept=0
  check "connect learned the server's key on first use and kept it in known_servers" "$kept"
  # A server with another key than the one pinned: every answer refused.
  inspect connect-wrong-key "${conn[@]}" --server-key "$other_pub" --method tools/list
  expect "a server with another key is reported to the client as an error" connect-wrong-key \
    'rc !== 0 && !(r && r.result && r.result.tools) && /31001|signature|key/i.test(JSON.stringify(r) + err)'
  # One byte of each answer changed between them: detected, reported as an error.
  local relay_log=$work/connect/relay.log
  start "$relay_log" "$node" "$root/tests/integration/connect_tamper_relay.mjs" \
    --upstream "127.0.0.1:$sidecar_port" --mode tamper
  local relay_pid=$started
  if wait_for "$relay_pid" "$relay_log" '^listening ' "tamper relay"; then
    local relay_port
    relay_port=$(sed -n 's/^listening \([0-9]*\)/\1/p' "$relay_log" | head -1)
    # Pinned to the sidecar's real key, so only the changed byte can be the problem.
    local -a tampered=(env "XDG_CONFIG_HOME=$work/connect/home" "$binary" connect
      "http://127.0.0.1:$relay_port/mcp" --key "$key" --key-id carol --server-key "$server_pub")
    inspect connect-tampered "${tampered[@]}" --method tools/call --tool-name echo \
      --tool-arg "message=$echo_msg"
    expect "an answer changed on the way is reported to the client as an error, not passed on" \
      connect-tampered 'rc !== 0 && !/Echo!/.test(JSON.stringify(r)) && /31001|signature/i.test(JSON.stringify(r) + err)'
    kill "$relay_pid" 2>/dev/null || true
  else
    fail "the tamper relay did not start"
  fi
  stop_sidecar sidecar-connect "$sidecar_pid"
}

run_inspector() {
  local -a up direct_target
  mapfile -t up < <(upstream_args)
  if [ "$mode" = http ]; then
    direct_target=("http://127.0.0.1:$every_port/mcp" --transport http)
  else
    direct_target=("$node" "$every" stdio)
  fi
  # The sidecar first: when it cannot start, there is no point in the direct calls.
  if ! start_sidecar "sidecar-$mode-inspector" "${up[@]}"; then
    fail "mcp-sidecar ($mode) did not start"
    return
  fi
  say "Inspector CLI directly against server-everything ($mode)"
  everything_calls direct "${direct_target[@]}"
  local url="http://127.0.0.1:$sidecar_port/mcp"
  say "Inspector CLI through the sidecar ($mode): $url"
  everything_calls via "$url" --transport http
  expect "tools/list through the sidecar lists echo" via-tools-list \
    'rc === 0 && r.result.tools.some((t) => t.name === "echo" && t.inputSchema.properties.message)'
  if [ "$mode" = http ]; then
    expect_same "tools/list through the sidecar equals tools/list direct" direct-tools-list via-tools-list
  else
    # server-everything lists some tools only to clients with a capability. Directly, the client
    # is the Inspector, which declares roots. Through the bridge, the client of the (shared)
    # child is the sidecar itself, which initializes it with sampling and elicitation and
    # without roots (bridge/bridge.cc: the directories a server exposes are the operator's
    # choice), whatever the caller declared. So these tools differ, and only these.
    ADDED=trigger-elicitation-request,trigger-url-elicitation,trigger-sampling-request \
      REMOVED=get-roots-list expect_same \
      "tools/list through the sidecar equals tools/list direct, but for the capability-gated tools" \
      direct-tools-list via-tools-list
  fi
  WANT="Echo: $echo_msg" expect "tools/call echo through the sidecar echoes the message" via-echo \
    'rc === 0 && r.result.content[0].type === "text" && r.result.content[0].text === want'
  expect_same "tools/call echo through the sidecar equals direct" direct-echo via-echo
  expect "tools/call echo with a number through the sidecar is a tool error (exit 5)" via-bad-args \
    'rc === 5 && r.result.isError === true && /expected string/.test(r.result.content[0].text)'
  expect_same "tools/call echo with a number: same answer through the sidecar as direct" \
    direct-bad-args via-bad-args
  expect "tools/call get-tiny-image through the sidecar returns a PNG" via-image \
    'rc === 0 && r.result.content.some((c) => c.type === "image" && c.mimeType === "image/png" && c.data.length > 100)'
  expect_same "tools/call get-tiny-image: same answer through the sidecar as direct" \
    direct-image via-image
  say "DNS-rebinding probes of the sidecar ($mode)"
  rebinding "$sidecar_port"
  stop_sidecar "sidecar-$mode-inspector" "$sidecar_pid"

  [ "$mode" = stdio ] || return 0
  run_connect
  # server-filesystem behind a second sidecar: a file inside its root, one outside.
  mkdir -p "$work/fs/root"
  local content=$'first line of the file\nsecond line, ünïcödé\n'
  printf '%s' "$content" >"$work/fs/root/inside.txt"
  printf 'outside\n' >"$work/fs/outside.txt"
  if ! start_sidecar sidecar-filesystem -- "$node" "$filesystem" "$work/fs/root"; then
    fail "mcp-sidecar (stdio, server-filesystem) did not start"
    return
  fi
  url="http://127.0.0.1:$sidecar_port/mcp"
  say "Inspector CLI through the sidecar (stdio, server-filesystem): $url"
  inspect fs-inside "$url" --transport http --method tools/call --tool-name read_text_file \
    --tool-arg "path=$work/fs/root/inside.txt"
  inspect fs-outside "$url" --transport http --method tools/call --tool-name read_text_file \
    --tool-arg "path=$work/fs/outside.txt"
  WANT=$content expect "read_text_file through the sidecar returns the file's content" fs-inside \
    'rc === 0 && r.result.content[0].text === want'
  expect "read_text_file outside the root through the sidecar is refused (isError, exit 5)" fs-outside \
    'rc === 5 && r.result.isError === true && /Access denied/.test(r.result.content[0].text)'
  stop_sidecar sidecar-filesystem "$sidecar_pid"
}

# ---- main -----------------------------------------------------------------------------------
say "mode $mode, part $part, binary $binary, node $("$node" --version), scratch $work"
start_everything_http || { say "server-everything did not start"; exit 1; }
if [ "$part" != inspector ]; then run_conformance; fi
if [ "$part" != conformance ]; then
  run_inspector
  say "Inspector and curl checks ($mode): $((checks_run - checks_failed)) of $checks_run passed"
fi
stop "$every_pid"

if [ "${#failures[@]}" -gt 0 ]; then
  say "${#failures[@]} failure(s) (mode $mode, part $part):"
  for f in "${failures[@]}"; do echo "  - $f" >&2; done
  exit 1
fi
say "passed (mode $mode, part $part)"
