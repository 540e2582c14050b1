#!/usr/bin/env bash
# Long chaos run: writers and readers under a nemesis that kills -9 and restarts random
# chunkservers and the master (tests/chaos.rs), for CHAOS_SECS (default 1800 s).
#
#   scripts/chaos-long.sh [release|dev]        # default: dev (the CI profile)
#   CHAOS_SEED=123 scripts/chaos-long.sh       # replay a seed printed by an earlier run
#
# Prints the seed first and a summary line at the end (faults injected, files and bytes
# verified, bytes lost). Exits non-zero if any acknowledged put was lost or misread.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-dev}"
export CHAOS_SECS="${CHAOS_SECS:-1800}"
case "$mode" in
  release) profile=(--release) ;;
  dev) profile=() ;;
  *) echo "usage: $0 [release|dev]" >&2; exit 2 ;;
esac
echo "chaos-long: ${CHAOS_SECS}s in ${mode} mode${CHAOS_SEED:+, seed $CHAOS_SEED}"
exec cargo test "${profile[@]}" --test chaos -- --nocapture --test-threads=1
