#!/usr/bin/env bash
# System packages ferrofs needs to build and test (Debian). Idempotent.
#  libclang-dev: RocksDB's bindgen.  fuse3: fusermount3 for unmounting as a user.
#  git, rsync, tar, fio: used by the FUSE tool tests and benchmarks.
#  chromium: the dashboard test loads the page in headless Chromium.
#  iproute2, nftables: the multi-host tests put nodes in network namespaces and cut links.
set -euo pipefail
pkgs=(libclang-dev fuse3 git rsync tar fio procps chromium iproute2 nftables)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}"
fi
# The randomized file-system exerciser used by the FUSE tests.
if ! command -v fsx >/dev/null 2>&1; then
  cargo install --locked fsx || echo "warning: could not install fsx; its test will be skipped" >&2
fi
