#!/usr/bin/env bash
# Installs the Debian 12 packages that Sluice needs, only those that are missing.
# Idempotent; must run as root (or through sudo) when something is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config make
  libgtest-dev libgmock-dev
  librdkafka-dev librocksdb-dev libboost-dev libboost-system-dev
  protobuf-compiler libprotobuf-dev libspdlog-dev libfmt-dev
  kcat docker-compose
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
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
