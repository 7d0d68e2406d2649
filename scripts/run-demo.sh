#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs mcp-sidecar in front of a demo MCP
# server (@modelcontextprotocol/server-everything over Streamable HTTP). Ctrl-C stops both.
#
#   scripts/run-demo.sh            listen on 127.0.0.1:8787 (MCP) and 127.0.0.1:9464 (admin)
# Env: LISTEN=127.0.0.1:8787 ADMIN=127.0.0.1:9464 DEMO_PORT=3001
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
LISTEN=${LISTEN:-127.0.0.1:8787} ADMIN=${ADMIN:-127.0.0.1:9464} DEMO_PORT=${DEMO_PORT:-3001}

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
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

"$root/build/mcp-sidecar" serve --listen "$LISTEN" --admin "$ADMIN" \
  --upstream "http://127.0.0.1:$DEMO_PORT/mcp" --verify off &
sidecar=$!
for _ in $(seq 1 50); do curl -sf "http://$ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

cat <<EOM

mcp-sidecar is listening on http://$LISTEN/mcp (admin: http://$ADMIN/metrics)
in front of server-everything on http://127.0.0.1:$DEMO_PORT/mcp.

Call it (an MCP initialize through the sidecar):

  curl -sS http://$LISTEN/mcp -H 'Content-Type: application/json' \\
    -H 'Accept: application/json, text/event-stream' \\
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

Press Ctrl-C to stop.
EOM
wait "$sidecar"
