#!/usr/bin/env bash
# System packages ferrofs needs to build and test (Debian). Idempotent.
#  libclang-dev: RocksDB's bindgen.  fuse3: fusermount3 for unmounting as a user.
#  git, rsync, tar, fio: used by the FUSE tool tests and benchmarks.
#  chromium: the dashboard tests load the page in headless Chromium.
#  rclone, python3-pip: the S3 gateway tests drive rclone; pip installs the Python
#  clients below.
#  iproute2, nftables, util-linux (flock): the multi-host tests put nodes in network
#  namespaces and cut links.
set -euo pipefail
pkgs=(libclang-dev fuse3 git rsync tar fio procps chromium rclone iproute2 nftables util-linux)
command -v python3 >/dev/null 2>&1 || pkgs+=(python3 python3-pip)
python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3-pip)
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
# The Python clients the gateway tests drive: boto3 and aws-cli (S3), pyarrow (S3
# filesystem, Parquet), hdfs (HdfsCLI, WebHDFS).
py_missing=()
for m in boto3:boto3 awscli:awscli pyarrow:pyarrow hdfs:hdfs; do
  python3 -c "import ${m%%:*}" 2>/dev/null || py_missing+=("${m##*:}")
done
if ((${#py_missing[@]})); then
  python3 -m pip install -q "${py_missing[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${py_missing[@]}"
fi
