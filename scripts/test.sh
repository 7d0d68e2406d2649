#!/usr/bin/env bash
# Builds and runs every test: the normal build, then an AddressSanitizer + UndefinedBehavior-
# Sanitizer build, then the formatting check. This is what CI runs (.ci/run).
#   scripts/test.sh
# Env: SKIP_ASAN=1 skips the sanitizer build (for a quick local run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

step() { echo; echo "==> $*" >&2; }

step "dependencies"
scripts/install-deps.sh --test

step "build (build/)"
scripts/build.sh
step "tests (build/)"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 300)

if [ "${SKIP_ASAN:-0}" != 1 ]; then
  step "build with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  BUILD_DIR="$root/build-asan" scripts/build.sh -DCMAKE_BUILD_TYPE=Debug -DSIDECAR_SANITIZE=ON \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
  step "tests under sanitizers (build-asan/)"
  (cd build-asan && MCP_SIDECAR_TEST_TIMEOUT_SCALE=3 \
     ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/ubsan.supp" \
     ctest --output-on-failure -j"$jobs" --timeout 600)
fi

step "formatting (clang-format)"
scripts/check-format.sh
echo
echo "all tests passed" >&2
