#!/usr/bin/env bash
# Makes sure Docker has the base images the Dockerfile names, debian:12 and
# debian:12-slim. The normal path is the registry: they are pulled. On a
# machine that reaches no registry (an offline or sandboxed one), they are
# made locally instead: debootstrap builds a minimal Debian 12 root file
# system from the Debian mirror apt uses, and `docker import` turns it into
# both images (the slim one without documentation and man pages).
#
#   scripts/base-images.sh [DOCKER]     DOCKER: the docker client (default: docker)
set -euo pipefail
docker=${1:-docker}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

if have debian:12 && have debian:12-slim; then
  echo "base-images: debian:12 and debian:12-slim are there"
  exit 0
fi
if "$docker" pull -q debian:12 >/dev/null 2>&1 && "$docker" pull -q debian:12-slim >/dev/null 2>&1; then
  echo "base-images: pulled debian:12 and debian:12-slim"
  exit 0
fi

echo "base-images: no registry answers; building debian:12 and debian:12-slim with debootstrap"
command -v debootstrap >/dev/null || { echo "base-images: debootstrap is not installed" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root/fs" "$mirror" >"$root/debootstrap.log" 2>&1 ||
  { tail -n 20 "$root/debootstrap.log" >&2; echo "base-images: debootstrap failed" >&2; exit 1; }
# The sources of Debian's own images: the release, its updates and security.
rm -f "$root/fs/etc/apt/sources.list"
cat >"$root/fs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -rf "$root/fs/var/lib/apt/lists/"* "$root/fs/var/cache/apt/"*.bin
tar -C "$root/fs" -c . | "$docker" import -c 'CMD ["bash"]' - debian:12 >/dev/null
rm -rf "$root/fs/usr/share/doc/"* "$root/fs/usr/share/man/"* "$root/fs/usr/share/info/"*
tar -C "$root/fs" -c . | "$docker" import -c 'CMD ["bash"]' - debian:12-slim >/dev/null
echo "base-images: made debian:12 and debian:12-slim locally"
