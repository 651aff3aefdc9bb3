#!/usr/bin/env bash
# Installs the Debian 12 packages that Sluice needs, only those that are missing.
# Idempotent; must run as root (or through sudo) when something is missing.
#
#   scripts/install-deps.sh [GROUP...]
#
# Groups (default: build test web, what `make deps` installs):
#   build     the compiler, CMake and the libraries `sluice` links (the image's build stage)
#   test      GoogleTest, kcat, docker-compose, clang-format and Chromium for `make test`
#   web       Node.js and npm (Debian's, unless an npm is there already), then the
#             dashboard's libraries from the npm registry (npm ci in web/)
#   compose   the Docker engine, Compose and debootstrap for `make compose-test`
set -euo pipefail

build=(
  g++ cmake ninja-build pkg-config make
  librdkafka-dev librocksdb-dev libboost-dev libboost-system-dev
  protobuf-compiler libprotobuf-dev libspdlog-dev libfmt-dev libabsl-dev libjemalloc-dev
  libcli11-dev nlohmann-json3-dev libsimdjson-dev libxxhash-dev
)
test=(ccache libgtest-dev libgmock-dev kcat docker-compose clang-format git chromium)
# A Node.js from elsewhere (with its own npm) is used as it is.
web=()
command -v npm >/dev/null 2>&1 || web=(nodejs npm)
compose=(docker.io docker-compose debootstrap)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test web)
packages=()
for group in "${groups[@]}"; do
  case "$group" in
    build) packages+=("${build[@]}") ;;
    test) packages+=("${test[@]}") ;;
    web) packages+=("${web[@]}") ;;
    compose) packages+=("${compose[@]}") ;;
    *) echo "deps: unknown group '$group' (build, test, web or compose)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The dashboard's libraries (web/package-lock.json), once per change of the lock.
install_web_libraries() {
  local web_dir
  web_dir="$(cd "$(dirname "$0")/../web" && pwd)"
  if [ -f "$web_dir/node_modules/.package-lock.json" ] &&
     [ "$web_dir/node_modules/.package-lock.json" -nt "$web_dir/package-lock.json" ]; then
    echo "deps: the dashboard's npm libraries are present"
    return
  fi
  echo "deps: installing the dashboard's npm libraries (npm ci in web/)"
  (cd "$web_dir" && npm ci --no-audit --no-fund --loglevel=error)
}
with_web=false
for group in "${groups[@]}"; do [ "$group" = web ] && with_web=true; done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present (${groups[*]})"
  if $with_web; then install_web_libraries; fi
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
if $with_web; then install_web_libraries; fi
