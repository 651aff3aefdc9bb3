#!/usr/bin/env bash
# Installs the Debian 12 packages that Sluice needs, only those that are missing.
# Idempotent; must run as root (or through sudo) when something is missing.
#
#   scripts/install-deps.sh [GROUP...]
#
# Groups (default: build test, what `make deps` installs):
#   build     the compiler, CMake and the libraries `sluice` links (the image's build stage)
#   test      GoogleTest, kcat, docker-compose and clang-format for `make test`
#   compose   the Docker engine, Compose and debootstrap for `make compose-test`
set -euo pipefail

build=(
  g++ cmake ninja-build pkg-config make
  librdkafka-dev librocksdb-dev libboost-dev libboost-system-dev
  protobuf-compiler libprotobuf-dev libspdlog-dev libfmt-dev libabsl-dev libjemalloc-dev
  libcli11-dev nlohmann-json3-dev libsimdjson-dev libxxhash-dev
)
test=(ccache libgtest-dev libgmock-dev kcat docker-compose clang-format git)
compose=(docker.io docker-compose debootstrap)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test)
packages=()
for group in "${groups[@]}"; do
  case "$group" in
    build) packages+=("${build[@]}") ;;
    test) packages+=("${test[@]}") ;;
    compose) packages+=("${compose[@]}") ;;
    *) echo "deps: unknown group '$group' (build, test or compose)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present (${groups[*]})"
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "deps: missing packages (${missing[*]}) and not root; run 'make deps' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
