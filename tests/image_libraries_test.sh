#!/usr/bin/env bash
# The Dockerfile's runtime stage installs a package for every shared library
# the sluice binary needs (its DT_NEEDED entries), apart from those every
# Debian 12 slim image has. No Docker engine needed: the packages are looked
# up with dpkg on this Debian 12 machine, where the binary was built.
#
# usage: tests/image_libraries_test.sh SLUICE_BINARY DOCKERFILE
set -euo pipefail

binary=$1 dockerfile=$2
base_packages=" libc6 libgcc-s1 libstdc++6 "

# The words of the runtime stage's apt-get install (after the last FROM).
installed=" $(awk '/^FROM /{ stage = "" } { stage = stage " " $0 } END { print stage }' "$dockerfile" |
  sed 's/\\$//' | tr -s ' \\' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | tr '\n' ' ') "

missing=0
for library in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  # awk reads every line: a reader that leaves early would end the writer
  # with SIGPIPE, a failure under pipefail.
  path=$(ldconfig -p | awk -v lib="$library" '$1 == lib && !found { print $NF; found = 1 }')
  [ -n "$path" ] || { echo "image_libraries_test: $library not found by ldconfig" >&2; exit 1; }
  package=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') ||
    package=$(dpkg -S "$path" | awk -F: 'NR == 1 { print $1 }')
  if [[ $base_packages != *" $package "* && $installed != *" $package "* ]]; then
    echo "image_libraries_test: sluice needs $library from $package; the Dockerfile's runtime stage does not install it" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] && echo "the runtime stage installs every library sluice needs"
