#!/usr/bin/env bash
# bench/master-scale.sh: how the ferrofs master copes with many files. A ferrofs master
# and 3 chunkservers (no mount); examples/mkfiles.rs creates FILES empty files through
# the client library (ferrofs_client::Client::create, CONCURRENCY creates in flight, in
# directories of PER_DIR files). Reports the create rate over the first and the last
# WINDOW files and overall, then the master's memory (VmRSS and VmHWM from
# /proc/PID/status) and the size of its RocksDB data directory (du), before and after.
#
# FERRO_MASTERS=3 runs it on a master group of three (the leader's figures, and every
# member's RSS).
#
# Knobs: FILES (default 1000000; QUICK=1: 20000), CONCURRENCY (64), PER_DIR (10000),
#        WINDOW (50000, at most FILES/4), MKFILES_BIN (default
#        target/release/examples/mkfiles, built with cargo if missing), QUICK,
#        BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/master-scale.sh   or   QUICK=1 bench/master-scale.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${FILES:=20000}"
else
    : "${FILES:=1000000}"
fi
: "${CONCURRENCY:=64}" "${PER_DIR:=10000}" "${WINDOW:=50000}"
: "${MKFILES_BIN:=$REPO_DIR/target/release/examples/mkfiles}"
if ((WINDOW > FILES / 4)); then WINDOW=$((FILES / 4 > 0 ? FILES / 4 : 1)); fi
REPORT_KNOBS="QUICK FILES CONCURRENCY PER_DIR WINDOW FERRO_MASTERS"

require_root
need_cmd python3 curl
check_ferrofs_bin
if [ ! -x "$MKFILES_BIN" ]; then
    log "building the load generator: cargo build --release --example mkfiles"
    (cd "$REPO_DIR" && cargo build --release --example mkfiles) >&2 ||
        die "could not build examples/mkfiles.rs"
fi
# `cargo test --all-targets` also leaves target/*/examples/mkfiles-HASH, the example
# built as a test harness: it takes none of mkfiles's flags.
"$MKFILES_BIN" --help 2>/dev/null | grep -q -- '--per-dir' ||
    die "$MKFILES_BIN is not the mkfiles load generator (build it: cargo build --release --example mkfiles)"
setup_work

proc_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

scale() {
    ferrofs_start --chunkservers 3 --no-mount
    local leader pid out line i
    leader=$(ferrofs_leader_index) || die "no master leader"
    pid=${FERRO_MASTER_PIDS[leader]}
    local mdir=$FERRO_DIR/master$leader
    result rss_before_mib "$(calc "$(proc_kib "$pid" VmRSS) / 1024")"
    result db_before_mib "$(calc "$(du -sb "$mdir" | cut -f1) / 1048576")"

    log "creating $FILES files ($CONCURRENCY in flight, $PER_DIR a directory)"
    out=$WORK/mkfiles.out
    "$MKFILES_BIN" --master "$FERRO_URL" --files "$FILES" --per-dir "$PER_DIR" \
        --concurrency "$CONCURRENCY" --window "$WINDOW" --root /scale | tee "$out" >&2 ||
        die "mkfiles failed"
    line=$(grep '^RESULT ' "$out" | tail -1)
    [ -n "$line" ] || die "mkfiles printed no RESULT line"
    field() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
    [ "$(field errors)" = 0 ] || die "mkfiles reported errors: $line"
    result create_rate "$(field rate)"
    result first_rate "$(field first_rate)"
    result last_rate "$(field last_rate)"
    result create_s "$(field seconds)"

    # Cross-check with the master's own count.
    local nfiles
    nfiles=$(ferrofs_status | python3 -c 'import json, sys; print(json.load(sys.stdin)["files"])')
    log "master reports $nfiles files"
    result files_master "$nfiles"

    result rss_after_mib "$(calc "$(proc_kib "$pid" VmRSS) / 1024")"
    result hwm_mib "$(calc "$(proc_kib "$pid" VmHWM) / 1024")"
    result db_after_mib "$(calc "$(du -sb "$mdir" | cut -f1) / 1048576")"
    result bytes_per_file "$(calc "$(du -sb "$mdir" | cut -f1) / $FILES")"
    # Every member of a group, followers too.
    local rss=()
    for i in "${!FERRO_MASTER_PIDS[@]}"; do
        rss+=("$(calc "$(proc_kib "${FERRO_MASTER_PIDS[i]}" VmRSS) / 1024")")
    done
    result rss_members "$(IFS=/; echo "${rss[*]}")"
    # After a pause: memtables may have been flushed.
    sleep 10
    result rss_later_mib "$(calc "$(proc_kib "$pid" VmRSS) / 1024")"
    result db_later_mib "$(calc "$(du -sb "$mdir" | cut -f1) / 1048576")"
}

run_one ferrofs scale

report "Master scale: $FILES empty files through the client API" --targets ferrofs --ratios "" \
    --row "create_rate=creates/s, overall" \
    --row "first_rate=creates/s, first $WINDOW files" \
    --row "last_rate=creates/s, last $WINDOW files" \
    --row "create_s=time to create all (s)" \
    --row "files_master=files the master counts" \
    --row "rss_before_mib=master RSS before (MiB)" \
    --row "rss_after_mib=master RSS after (MiB)" \
    --row "rss_later_mib=master RSS 10 s later (MiB)" \
    --row "rss_members=RSS of each member after (MiB)" \
    --row "hwm_mib=master peak RSS, VmHWM (MiB)" \
    --row "db_before_mib=master data dir before (MiB)" \
    --row "db_after_mib=master data dir after (MiB)" \
    --row "db_later_mib=master data dir 10 s later (MiB)" \
    --row "bytes_per_file=master data dir bytes per file" \
    --note "examples/mkfiles.rs: $CONCURRENCY creates in flight, $PER_DIR files a directory, one master RPC per file. The files count includes the directories. MooseFS is not measured here."
finish
