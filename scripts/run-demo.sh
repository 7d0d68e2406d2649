#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs mcp-sidecar in front of a demo MCP
# server (@modelcontextprotocol/server-everything over Streamable HTTP), verifying signatures
# (--verify enforce) with a demo caller key it makes in .mcp-sidecar/demo/. Ctrl-C stops both.
#
#   scripts/run-demo.sh            listen on 127.0.0.1:8787 (MCP) and 127.0.0.1:9464 (admin)
# Env: LISTEN=127.0.0.1:8787 ADMIN=127.0.0.1:9464 DEMO_PORT=3001
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
LISTEN=${LISTEN:-127.0.0.1:8787} ADMIN=${ADMIN:-127.0.0.1:9464} DEMO_PORT=${DEMO_PORT:-3001}

"$root/scripts/install-deps.sh"
BUILD_TARGETS=mcp-sidecar "$root/scripts/build.sh"
peers=$("$root/scripts/install-peers.sh")
every="$peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_busy "$DEMO_PORT"; then
  echo "run-demo: port $DEMO_PORT is taken; set DEMO_PORT to a free port for the demo MCP server" >&2
  exit 1
fi

echo "run-demo: starting the demo MCP server (server-everything, Streamable HTTP) on 127.0.0.1:$DEMO_PORT" >&2
PORT=$DEMO_PORT node "$every" streamableHttp >"$root/.peers/demo-server.log" 2>&1 &
demo=$!
sidecar=
cleanup() {
  [ -n "$sidecar" ] && kill -TERM "$sidecar" 2>/dev/null && wait "$sidecar" 2>/dev/null
  kill -TERM "$demo" 2>/dev/null; wait "$demo" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM
for _ in $(seq 1 100); do port_busy "$DEMO_PORT" && break; sleep 0.1; done
port_busy "$DEMO_PORT" || { echo "run-demo: the demo server did not start; see $root/.peers/demo-server.log" >&2; exit 1; }

# A demo caller key and a trust store that accepts it, kept between runs.
state="$root/.mcp-sidecar/demo"
mkdir -p "$state"
bin="$root/build/mcp-sidecar"
if [ ! -f "$state/caller.key" ]; then
  echo "run-demo: making a demo caller key in $state/caller.key" >&2
  "$bin" keygen --out "$state/caller.key" --id demo-caller > "$state/keygen.txt"
  { echo "keys:"; sed -n '/^  - id:/,$p' "$state/keygen.txt"; } > "$state/trust-store.yaml"
fi

"$bin" serve --listen "$LISTEN" --admin "$ADMIN" --upstream "http://127.0.0.1:$DEMO_PORT/mcp" \
  --verify enforce --trust-store "$state/trust-store.yaml" &
sidecar=$!
for _ in $(seq 1 50); do curl -sf "http://$ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
unsigned=$(curl -sS "http://$LISTEN/mcp" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -d "$init" -w ' (HTTP %{http_code})' || true)

cat <<EOM

mcp-sidecar is listening on http://$LISTEN/mcp (admin: http://$ADMIN/metrics), verifying
every request's Ed25519 signature (--verify enforce) in front of server-everything on
http://127.0.0.1:$DEMO_PORT/mcp. Caller key: $state/caller.key (key id demo-caller).

An unsigned call is refused:

  $unsigned

A signed call (each run signs afresh; a signed command works once, within 5 minutes):

  $bin sign --key $state/caller.key --key-id demo-caller \\
    --url http://$LISTEN/mcp --data '$init' --curl | bash

Press Ctrl-C to stop.
EOM
wait "$sidecar"
