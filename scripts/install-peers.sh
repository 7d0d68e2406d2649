#!/usr/bin/env bash
# Installs the pinned npm packages the demo and the tests run against (real MCP servers), into
# .peers/ at the repository root (git-ignored). Idempotent: an installed pin is not fetched again.
#
#   scripts/install-peers.sh          prints the peers directory on stdout
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${MCP_SIDECAR_PEERS:-$root/.peers}
# Pins, as measured in bench/ and docs/testing.md.
pkgs=("@modelcontextprotocol/server-everything@2026.8.31")

need=()
for spec in "${pkgs[@]}"; do
  name=${spec%@*} version=${spec##*@}
  have=$(node -p "try{require('$peers/node_modules/$name/package.json').version}catch(e){''}" 2>/dev/null || true)
  [ "$have" = "$version" ] || need+=("$spec")
done
if [ "${#need[@]}" -gt 0 ]; then
  command -v npm >/dev/null || { echo "install-peers: npm is missing: run scripts/install-deps.sh first" >&2; exit 1; }
  echo "install-peers: installing ${need[*]} into $peers (npm, one time)" >&2
  mkdir -p "$peers"
  [ -f "$peers/package.json" ] || echo '{"name":"mcp-sidecar-peers","private":true}' > "$peers/package.json"
  npm install --prefix "$peers" --no-audit --no-fund --loglevel=error "${need[@]}" >&2
fi
echo "$peers"
