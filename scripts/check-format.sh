#!/usr/bin/env bash
# Fails when a C++ file differs from clang-format's output (.clang-format). With --fix, rewrites.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.h.in' | grep -v '\.in$' || true)
if [ "${1:-}" = --fix ]; then clang-format -i "${files[@]}"; exit 0; fi
bad=0
for f in "${files[@]}"; do
  if ! diff -q <(clang-format "$f") "$f" >/dev/null; then echo "not formatted: $f" >&2; bad=1; fi
done
[ "$bad" = 0 ] || { echo "run scripts/check-format.sh --fix" >&2; exit 1; }
echo "format: ${#files[@]} files clean" >&2
