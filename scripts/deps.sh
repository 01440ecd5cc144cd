#!/usr/bin/env bash
# Installs the Debian packages hypertrain builds with, when any is missing.
# As root: apt-get installs them. Otherwise: prints the exact command and exits 1.
set -euo pipefail
PACKAGES=(g++ cmake make libopenblas-dev libtbb-dev nlohmann-json3-dev libcxxopts-dev doctest-dev zlib1g-dev libcairo2-dev fonts-dejavu-core
          libopenmpi-dev openmpi-bin
          python3-numpy
          dataset-fashion-mnist)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "hypertrain needs these Debian packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
