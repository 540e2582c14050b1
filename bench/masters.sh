#!/usr/bin/env bash
# bench/masters.sh: what replicating the namespace costs. The same metadata workloads
# through the mount on ferrofs with one master ("ferrofs") and with a master group of
# three ("ferrofs3", every mutation in the log of two members before it is answered),
# in the same run: create, stat, readdir and unlink of FILES empty files in one
# directory (bench/metaops.py, one process), and tar x + sync of a tree of TREE small
# files (bench/mktree.py). Ratios are group of 3 / single master.
#
# Knobs: FILES (default 10000; QUICK=1: 2000), TREE (default 5000; QUICK=1: 1000),
#        QUICK, BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/masters.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${FILES:=2000}" "${TREE:=1000}"
else
    : "${FILES:=10000}" "${TREE:=5000}"
fi
TARGETS="ferrofs ferrofs3"
REPORT_KNOBS="QUICK FILES TREE"

require_root
need_cmd python3 curl tar
setup_work

SRC=$WORK/src
TARBALL=$WORK/tree.tar
read -r NFILES _ _ < <(python3 "$BENCH_DIR/mktree.py" "$SRC" "$TREE")
tar -C "$SRC" -cf "$TARBALL" .
rm -rf "$SRC"

workload() {
    local dir=$1/meta phase line t0 secs
    for phase in create stat readdir unlink; do
        [ "$phase" = create ] || drop_caches
        line=$(python3 "$BENCH_DIR/metaops.py" "$phase" "$dir" "$FILES") ||
            die "$TARGET: $phase failed"
        log "$TARGET: $line"
        result "${phase}_ops" "$(echo "$line" | awk '{ print $4 }')"
    done
    rmdir "$dir"
    mkdir -p "$1/tree"
    cat "$TARBALL" >/dev/null
    t0=$(now)
    tar -C "$1/tree" -xf "$TARBALL"
    sync -f "$1/tree"
    secs=$(since "$t0")
    result untar_fps "$(calc "$NFILES / $secs")"
}

run_targets workload

report "Master group: 1 master vs a group of 3, metadata through the mount" \
    --targets ferrofs,ferrofs3 --ratios ferrofs3/ferrofs \
    --row "create_ops=create (files/s)" \
    --row "stat_ops=stat, cold (files/s)" \
    --row "readdir_ops=readdir, cold (entries/s)" \
    --row "unlink_ops=unlink, cold (files/s)" \
    --row "untar_fps=tar x + sync of $NFILES small files (files/s)" \
    --note "One process, one operation at a time. ferrofs3: three masters on this machine, each mutation committed on two of them (written to the log, synced on fsync)."
finish
