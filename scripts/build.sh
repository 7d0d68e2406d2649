#!/usr/bin/env bash
# Configures and builds into build/ (or $BUILD_DIR), reusing an existing configuration.
#   scripts/build.sh [extra cmake -D options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_DIR:-$root/build}
if [ ! -f "$dir/build.ninja" ] || [ "$#" -gt 0 ]; then
  echo "build: configuring $dir" >&2
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
fi
echo "build: compiling $dir (a first build takes about two minutes on 2 cores)" >&2
cmake --build "$dir" -- -k 0
