#!/usr/bin/env bash
# bench/parallel.sh: concurrent metadata operations through the mount on a local
# directory, ferrofs and MooseFS. PROCS processes (bench/parops.py, one Python process
# each) start at once (a barrier: they wait for a start file on local disk) and each
# creates FILES empty files, then (caches dropped) stats them, then (caches dropped)
# unlinks them, in two layouts:
#
#   shared:  every process's files in ONE directory (contention on one directory);
#   private: each process in a directory of its own.
#
# Aggregate rate = PROCS x FILES / (last process's finish - common start).
#
# Knobs: FILES (per process, default 2000; QUICK=1: 250), PROCS (default 8), TARGETS,
#        QUICK, BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/parallel.sh   or   QUICK=1 bench/parallel.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${FILES:=250}"
else
    : "${FILES:=2000}"
fi
: "${PROCS:=8}"
REPORT_KNOBS="QUICK FILES PROCS TARGETS"

require_root
need_cmd python3 curl
setup_work

workload() {
    local layout phase dir line
    for layout in shared private; do
        dir=$1/par-$layout
        for phase in create stat unlink; do
            [ "$phase" = create ] || drop_caches
            line=$(TMPDIR=$WORK python3 "$BENCH_DIR/parops.py" "$phase" "$layout" "$dir" "$PROCS" "$FILES") ||
                die "$TARGET: $layout $phase failed"
            log "$TARGET: $line (phase layout procs ops s ops/s slowest-s fastest-s)"
            result "${layout}_${phase}_ops" "$(echo "$line" | awk '{ print $6 }')"
        done
        [ -z "$(ls -A "$dir")" ] || die "$TARGET: $dir is not empty after the unlinks"
        rmdir "$dir"
    done
}

run_targets workload

report "Parallel metadata: $PROCS processes x $FILES empty files" \
    --row "shared_create_ops=create, one shared directory (files/s, aggregate)" \
    --row "shared_stat_ops=stat, one shared directory, cold (files/s, aggregate)" \
    --row "shared_unlink_ops=unlink, one shared directory, cold (files/s, aggregate)" \
    --row "private_create_ops=create, a directory per process (files/s, aggregate)" \
    --row "private_stat_ops=stat, a directory per process, cold (files/s, aggregate)" \
    --row "private_unlink_ops=unlink, a directory per process, cold (files/s, aggregate)" \
    --note "$PROCS Python processes (bench/parops.py) released together by a barrier, each doing its $FILES operations one at a time (os.open+close / os.stat / os.unlink); aggregate = $((PROCS * FILES)) / (last finish - common start). Caches are dropped before stat and unlink. Higher is better."
finish
