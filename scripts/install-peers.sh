#!/usr/bin/env bash
# Installs the pinned npm packages the demo and the tests run against (real MCP servers, the
# MCP conformance suite and the MCP Inspector CLI), into .peers/ at the repository root
# (git-ignored; MCP_SIDECAR_PEERS moves it). Idempotent: an installed pin is not fetched again.
#
#   scripts/install-peers.sh          prints the peers directory on stdout
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${MCP_SIDECAR_PEERS:-$root/.peers}
# Pins, as measured in bench/ and docs/testing.md. The conformance runner and the Inspector need
# Node >= 22 (scripts/node22.sh); 0.2.0-alpha.12 is the conformance line with the 2025-11-25 and
# 2026-07-28 scenarios (the `latest` tag, 0.1.x, is older).
pkgs=("@modelcontextprotocol/server-everything@2026.8.31"
  "@modelcontextprotocol/server-filesystem@2026.8.31"
  "@modelcontextprotocol/conformance@0.2.0-alpha.12"
  "@modelcontextprotocol/inspector@2.12.0")

# Tests run in parallel (ctest -j) each call this script: one installs, the others wait.
mkdir -p "$peers"
exec 9>"$peers/.install.lock"
flock 9

# npm runs under Node 22: the Inspector's engines field asks for >= 22.19.
PATH="$("$root/scripts/node22.sh"):$PATH"
export PATH

need=()
for spec in "${pkgs[@]}"; do
  name=${spec%@*} version=${spec##*@}
  have=$(node -p "try{require('$peers/node_modules/$name/package.json').version}catch(e){''}" 2>/dev/null || true)
  [ "$have" = "$version" ] || need+=("$spec")
done
if [ "${#need[@]}" -gt 0 ]; then
  command -v npm >/dev/null || { echo "install-peers: npm is missing: run scripts/install-deps.sh first" >&2; exit 1; }
  echo "install-peers: installing ${need[*]} into $peers (npm, one time)" >&2
  [ -f "$peers/package.json" ] || echo '{"name":"mcp-sidecar-peers","private":true}' > "$peers/package.json"
  # --save-exact: package.json records the pins themselves, not ^ ranges.
  npm install --prefix "$peers" --save-exact --no-audit --no-fund --loglevel=error "${need[@]}" >&2
fi
echo "$peers"
