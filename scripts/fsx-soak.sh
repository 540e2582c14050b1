#!/usr/bin/env bash
# fsx soak: 100,000 fsx operations per seed, every operation kind fsx has, five seeds at
# once on one mount of a 3-chunkserver cluster (tests/fuse_fsx.rs, the ignored test).
#
#   scripts/fsx-soak.sh [release|dev]           # default: dev (the CI profile)
#   FSX_OPS=500000 scripts/fsx-soak.sh          # longer
#   FSX_SEEDS=7,8,9 scripts/fsx-soak.sh         # other seeds
#   FERROFS_TEST_KEEP=1 scripts/fsx-soak.sh     # keep fsx's .fsxgood files and the logs
#
# Exits non-zero if any seed reports a miscompare, a size error or an I/O error; the
# failing seeds' last operations are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-dev}"
case "$mode" in
  release) profile=(--release) ;;
  dev) profile=() ;;
  *) echo "usage: $0 [release|dev]" >&2; exit 2 ;;
esac
echo "fsx-soak: ${FSX_OPS:-100000} operations per seed${FSX_SEEDS:+, seeds $FSX_SEEDS}, ${mode} mode"
exec cargo test "${profile[@]}" --test fuse_fsx -- --ignored --nocapture fsx_every_operation_kind_soak
