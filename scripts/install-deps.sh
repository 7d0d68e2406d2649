#!/usr/bin/env bash
# Installs what mcp-sidecar needs to build, run and test on Debian 12, as root.
# Idempotent: each package is checked first and only the missing ones are installed, so a
# second run does nothing and needs no network.
#
#   scripts/install-deps.sh            build + run dependencies
#   scripts/install-deps.sh --test     also the test peers (wrk, nginx, npm packages)
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown argument '$arg' (allowed: --test)" >&2; exit 2 ;;
  esac
done

say() { echo "install-deps: $*" >&2; }

build_pkgs=(build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  libuv1-dev node-llhttp libssl-dev libsodium-dev rapidjson-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev libyaml-cpp-dev libcli11-dev curl ca-certificates)
test_pkgs=(wrk nginx-light procps prometheus)

missing=()
check() { for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done; }
check "${build_pkgs[@]}"
[ "$want_test" = 1 ] && check "${test_pkgs[@]}"
# Node and npm may come from Debian or from elsewhere on the machine: accept either.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]}; run this script as root (or: sudo apt-get install -y ${missing[*]})"
    exit 1
  fi
  say "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "Debian packages installed"
else
  say "all Debian packages present"
fi

if [ "$want_test" = 1 ]; then
  # npm test peers, pinned, installed into tests/peers (not the repository's tracked tree).
  root=$(cd "$(dirname "$0")/.." && pwd)
  "$root/scripts/install-peers.sh"
fi
