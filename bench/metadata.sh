#!/usr/bin/env bash
# bench/metadata.sh: metadata operations through the mount on a local directory, ferrofs
# and MooseFS: create, stat, readdir and unlink FILES empty files in one directory, one
# at a time from one process (Python os.* calls; bench/metaops.py). Each phase is timed
# separately; the page cache (and dentry/inode caches) are dropped before stat, readdir
# and unlink, so those phases start cold.
#
# Knobs: FILES (default 10000; QUICK=1: 2000), TARGETS, QUICK, BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/metadata.sh   or   QUICK=1 bench/metadata.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${FILES:=2000}"
else
    : "${FILES:=10000}"
fi
REPORT_KNOBS="QUICK FILES TARGETS"

require_root
need_cmd python3 curl
setup_work

workload() {
    local dir=$1/meta phase line
    for phase in create stat readdir unlink; do
        [ "$phase" = create ] || drop_caches
        line=$(python3 "$BENCH_DIR/metaops.py" "$phase" "$dir" "$FILES") ||
            die "$TARGET: $phase failed"
        log "$TARGET: $line"
        result "${phase}_ops" "$(echo "$line" | awk '{ print $4 }')"
    done
    rmdir "$dir"
}

run_targets workload

report "Metadata: $FILES empty files in one directory" \
    --row "create_ops=create (files/s)" \
    --row "stat_ops=stat, cold (files/s)" \
    --row "readdir_ops=readdir, cold (entries/s)" \
    --row "unlink_ops=unlink, cold (files/s)" \
    --note "One process, one operation at a time (Python os.open+close / os.stat / os.scandir / os.unlink). Higher is better."
finish
