#!/usr/bin/env bash
# Configures and builds into build/ (or $BUILD_DIR), reusing an existing configuration.
#   scripts/build.sh [extra cmake -D options]
# Env: BUILD_TARGETS="mcp-sidecar" builds only those targets (default: everything, tests too).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_DIR:-$root/build}
if [ ! -f "$dir/build.ninja" ] || [ "$#" -gt 0 ]; then
  echo "build: configuring $dir" >&2
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
fi
echo "build: compiling ${BUILD_TARGETS:-everything} in $dir (a first build takes a minute or two on 2 cores)" >&2
# shellcheck disable=SC2086 # BUILD_TARGETS is a list of target names
cmake --build "$dir" ${BUILD_TARGETS:+--target $BUILD_TARGETS} -- -k 0
