#!/usr/bin/env bash
# install-peers.sh - installs the Node MCP bridges bench/mcp-bench.sh measures beside mcp-sidecar
# (mcp-proxy and supergateway, exactly as pinned in bench/mcp/package-lock.json) into
# .peers/bench at the repository root (git-ignored; MCP_SIDECAR_PEERS moves .peers), and the
# stdio MCP server they all front (server-everything) through scripts/install-peers.sh.
# Idempotent: when the installed lock matches and the packages are there, nothing is fetched.
#
#   bench/mcp/install-peers.sh        prints the bench peers directory (.peers/bench) on stdout
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peers=${MCP_SIDECAR_PEERS:-$root/.peers}
dir=$peers/bench

"$root/scripts/install-peers.sh" >/dev/null

if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" ||
  [ ! -f "$dir/node_modules/mcp-proxy/package.json" ] ||
  [ ! -f "$dir/node_modules/supergateway/package.json" ]; then
  command -v npm >/dev/null || { echo "install-peers: npm is missing: run scripts/install-deps.sh first" >&2; exit 1; }
  echo "install-peers: installing mcp-proxy and supergateway into $dir (npm ci, one time)" >&2
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "$dir"
