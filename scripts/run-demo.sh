#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs mcp-sidecar in front of a demo stdio MCP
# server that it starts itself (@modelcontextprotocol/server-everything, `node ... stdio`),
# serving it over MCP Streamable HTTP and verifying signatures (--verify enforce) with a demo
# caller key it makes in .mcp-sidecar/demo/. Ctrl-C stops the sidecar, which stops the server.
#
#   scripts/run-demo.sh            listen on 127.0.0.1:8787 (MCP) and 127.0.0.1:9464 (admin)
# Env: LISTEN=127.0.0.1:8787 ADMIN=127.0.0.1:9464
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
LISTEN=${LISTEN:-127.0.0.1:8787} ADMIN=${ADMIN:-127.0.0.1:9464}

"$root/scripts/install-deps.sh"
BUILD_TARGETS=mcp-sidecar "$root/scripts/build.sh"
peers=$("$root/scripts/install-peers.sh")
every="$peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

sidecar=
cleanup() { [ -n "$sidecar" ] && kill -TERM "$sidecar" 2>/dev/null && wait "$sidecar" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 0' INT TERM

# A demo caller key and a trust store that accepts it, kept between runs.
state="$root/.mcp-sidecar/demo"
mkdir -p "$state"
bin="$root/build/mcp-sidecar"
if [ ! -f "$state/caller.key" ]; then
  echo "run-demo: making a demo caller key in $state/caller.key" >&2
  "$bin" keygen --out "$state/caller.key" --id demo-caller > "$state/keygen.txt"
  { echo "keys:"; sed -n '/^  - id:/,$p' "$state/keygen.txt"; } > "$state/trust-store.yaml"
fi

echo "run-demo: starting mcp-sidecar, which starts the demo stdio server (server-everything)" >&2
"$bin" serve --listen "$LISTEN" --admin "$ADMIN" \
  --verify enforce --trust-store "$state/trust-store.yaml" -- node "$every" stdio &
sidecar=$!
for _ in $(seq 1 100); do curl -sf "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://$ADMIN/readyz" >/dev/null 2>&1 ||
  { echo "run-demo: the sidecar is not ready; its log is above (curl http://$ADMIN/readyz says why)" >&2; exit 1; }

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
unsigned=$(curl -sS "http://$LISTEN/mcp" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -d "$init" -w ' (HTTP %{http_code})' || true)

cat <<EOM

mcp-sidecar is serving the stdio server \`node server-everything stdio\` over MCP Streamable
HTTP at http://$LISTEN/mcp (admin: http://$ADMIN/metrics, /status), verifying every
request's Ed25519 signature (--verify enforce). Caller key: $state/caller.key (key id demo-caller).

An unsigned call is refused:

  $unsigned

A signed call (each run signs afresh; a signed command works once, within 5 minutes); the
answer's Mcp-Session-Id header names the session for the next calls (sign --session ID):

  $bin sign --key $state/caller.key --key-id demo-caller \\
    --url http://$LISTEN/mcp --data '$init' --curl | bash

Press Ctrl-C to stop.
EOM
wait "$sidecar"
