#!/usr/bin/env bash
# bench/smallfiles.sh: many small files through the mount on a local directory, ferrofs
# and MooseFS. A deterministic tree of FILES files of 1-64 KiB (bench/mktree.py, 100
# files a directory) is generated once and tarred on the local disk; then, per target:
#
#   untar:    tar xf of the archive into the target, then `sync -f` of the target
#             (archive read from the page cache: it is read once before timing);
#   read:     caches dropped, then `tar cf - . | wc -c` over the tree (reads every file;
#             tar's output to /dev/null would skip the reads, hence the pipe);
#   verify:   (untimed, VERIFY=1) `diff -r` of the tree against the source;
#   delete:   caches dropped, then `rm -rf` of the tree.
#
# Knobs: FILES (default 20000; QUICK=1: 2000), VERIFY (default 1), TARGETS, QUICK,
#        BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/smallfiles.sh   or   QUICK=1 bench/smallfiles.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${FILES:=2000}"
else
    : "${FILES:=20000}"
fi
: "${VERIFY:=1}"
REPORT_KNOBS="QUICK FILES VERIFY TARGETS"

require_root
need_cmd python3 tar curl
setup_work

SRC=$WORK/src
TARBALL=$WORK/tree.tar
log "generating $FILES files of 1-64 KiB under $SRC"
read -r NFILES NBYTES NDIRS < <(python3 "$BENCH_DIR/mktree.py" "$SRC" "$FILES")
tar -C "$SRC" -cf "$TARBALL" .
log "tree: $NFILES files, $NDIRS directories, $((NBYTES / 1048576)) MiB of data; tarball $(($(stat -c %s "$TARBALL") / 1048576)) MiB"
[ "$VERIFY" = 1 ] || rm -rf "$SRC"

workload() {
    local dir=$1/tree t0 secs n
    mkdir -p "$dir"

    drop_caches
    cat "$TARBALL" >/dev/null
    log "$TARGET: untar"
    t0=$(now)
    tar -C "$dir" -xf "$TARBALL"
    sync -f "$dir"
    secs=$(since "$t0")
    result untar_s "$secs"
    result untar_fps "$(calc "$NFILES / $secs")"

    drop_caches
    log "$TARGET: read back"
    t0=$(now)
    n=$(tar -C "$dir" -cf - . | wc -c)
    secs=$(since "$t0")
    [ "$n" -ge "$NBYTES" ] || die "$TARGET: read back only $n bytes, the files hold $NBYTES"
    result read_s "$secs"
    result read_fps "$(calc "$NFILES / $secs")"
    result read_mibs "$(calc "$NBYTES / 1048576 / $secs")"

    if [ "$VERIFY" = 1 ]; then
        log "$TARGET: verify (diff -r, untimed)"
        diff -r "$SRC" "$dir" >/dev/null || die "$TARGET: the tree read back differs from the source"
    fi

    drop_caches
    log "$TARGET: delete"
    t0=$(now)
    rm -rf "$dir"
    secs=$(since "$t0")
    result delete_s "$secs"
    result delete_fps "$(calc "$NFILES / $secs")"
}

run_targets workload

report "Small files: $NFILES files of 1-64 KiB ($((NBYTES / 1048576)) MiB)" \
    --row "untar_s=untar + sync (s)" \
    --row "untar_fps=untar + sync (files/s)" \
    --row "read_s=read all back, cold (s)" \
    --row "read_fps=read all back, cold (files/s)" \
    --row "read_mibs=read all back, cold (MiB/s)" \
    --row "delete_s=rm -rf, cold (s)" \
    --row "delete_fps=rm -rf, cold (files/s)" \
    --note "Tree: $NDIRS directories of 100 files (bench/mktree.py, fixed seed). Untar reads the archive from the page cache. Seconds: lower is better; files/s and MiB/s: higher is better."
finish
