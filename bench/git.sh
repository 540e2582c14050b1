#!/usr/bin/env bash
# bench/git.sh: git on a local directory, ferrofs and MooseFS. The source repository is
# a bare repository in the work directory (local disk, outside the targets), made at the
# start of the run:
#
#   - by default from real source trees: bench/gitrepo.py commits crates of cargo's
#     registry (the ones a build of this project unpacked under ~/.cargo/registry/src,
#     at the versions of Cargo.lock) until the tree holds GIT_FILES files, in two
#     commits (older and newer versions of the crates that come in several: a
#     dependency upgrade), with fixed dates, so the commit ids are the same everywhere;
#   - with GIT_REPO=PATH, a bare clone of that repository (any local git repository).
#
# Then, per target:
#
#   clone:          `git clone file://SOURCE` into the target (the git transport: a pack
#                   is sent, indexed and checked out) and `sync -f` of the target; the
#                   source's files are read once before, so they come from the page cache;
#   status, cold:   caches dropped, `git status --porcelain` (must print nothing);
#   status, warm:   the same again;
#   checkout:       `git checkout --detach GIT_CHECKOUT` (default HEAD~1: the older
#                   versions) + `sync -f`, warm; HEAD and a clean status checked after;
#   verify:         (untimed, VERIFY=1) the index is rebuilt from HEAD without stat data
#                   (`git read-tree HEAD`), so `git status` hashes every file again and
#                   must find nothing changed.
#
# git runs with GIT_CONFIG_NOSYSTEM=1 and GIT_CONFIG_GLOBAL=/dev/null (defaults only).
#
# Knobs: GIT_FILES (files in the built repository, default 4000; QUICK=1: 1000),
#        GIT_REPO (a local repository to use instead), GIT_CHECKOUT (default HEAD~1;
#        "none" skips the checkout), VERIFY (default 1), TARGETS, QUICK, BENCH_TMP,
#        FERROFS_BIN, KEEP.
# Run as root: bench/git.sh   or   QUICK=1 bench/git.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${GIT_FILES:=1000}"
else
    : "${GIT_FILES:=4000}"
fi
: "${GIT_REPO:=}"
: "${GIT_CHECKOUT:=HEAD~1}"
: "${VERIFY:=1}"
REPORT_KNOBS="QUICK GIT_FILES GIT_REPO GIT_CHECKOUT VERIFY TARGETS"
[ -z "$GIT_REPO" ] || REPORT_KNOBS=${REPORT_KNOBS/GIT_FILES /}  # not used then

require_root
need_cmd git python3 curl
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
setup_work

SRC=$WORK/source.git
if [ -n "$GIT_REPO" ]; then
    log "source: a bare clone of $GIT_REPO"
    git clone -q --bare --no-local "$GIT_REPO" "$SRC" || die "cannot clone GIT_REPO=$GIT_REPO"
    SRC_DESC="a bare clone of \`$GIT_REPO\`"
else
    [ -f "$REPO_DIR/Cargo.lock" ] || die "no $REPO_DIR/Cargo.lock to pick crates from: set GIT_REPO"
    log "source: crates of cargo's registry, $GIT_FILES files (bench/gitrepo.py)"
    read -r OLDER NEWER _ NCRATES NDIFFER < <(python3 "$BENCH_DIR/gitrepo.py" "$WORK/gitbuild" "$GIT_FILES" "$REPO_DIR/Cargo.lock") ||
        die "bench/gitrepo.py failed"
    git clone -q --bare --no-local "$WORK/gitbuild" "$SRC"
    rm -rf "$WORK/gitbuild"
    SRC_DESC="bench/gitrepo.py: $NCRATES crates of cargo's registry at Cargo.lock's versions, vendor/<name>/; HEAD ${NEWER:0:12} (newest versions), HEAD~1 ${OLDER:0:12} ($NDIFFER crates at older versions)"
fi
git -C "$SRC" repack -adq
HEAD_ID=$(git -C "$SRC" rev-parse HEAD)
NFILES=$(git -C "$SRC" ls-tree -r HEAD | wc -l)
NBYTES=$(git -C "$SRC" ls-tree -r -l HEAD | awk '$4 ~ /^[0-9]+$/ { s += $4 } END { print s + 0 }')
PACK_BYTES=$(du -cb "$SRC"/objects/pack/*.pack | tail -1 | cut -f1)
CO_ID=""
NCHANGED=0
if [ "$GIT_CHECKOUT" != none ]; then
    if CO_ID=$(git -C "$SRC" rev-parse -q --verify "$GIT_CHECKOUT^{commit}"); then
        NCHANGED=$(git -C "$SRC" diff --name-only "$HEAD_ID" "$CO_ID" | wc -l)
    else
        log "GIT_CHECKOUT=$GIT_CHECKOUT is not a commit of the source: no checkout step"
        CO_ID=""
    fi
fi
log "source $SRC: HEAD ${HEAD_ID:0:12}, $NFILES files, $((NBYTES / 1048576)) MiB, pack $((PACK_BYTES / 1048576)) MiB${CO_ID:+; checkout of $GIT_CHECKOUT (${CO_ID:0:12}) changes $NCHANGED files}"

# porcelain status of the clone; dies unless it is empty
clean_status() {
    local out
    out=$(git -C "$1" status --porcelain) || die "$TARGET: git status failed"
    [ -z "$out" ] || die "$TARGET: git status $2 is not clean: $(echo "$out" | head -5)"
}

workload() {
    local dir=$1/repo t0 secs
    drop_caches
    find "$SRC" -type f -exec cat {} + >/dev/null

    log "$TARGET: git clone"
    t0=$(now)
    git clone -q "file://$SRC" "$dir" || die "$TARGET: git clone failed"
    sync -f "$dir"
    secs=$(since "$t0")
    result clone_s "$secs"
    result clone_fps "$(calc "$NFILES / $secs")"
    [ "$(git -C "$dir" rev-parse HEAD)" = "$HEAD_ID" ] || die "$TARGET: the clone's HEAD is not $HEAD_ID"

    drop_caches
    log "$TARGET: git status, cold"
    t0=$(now)
    clean_status "$dir" "(cold) after the clone"
    result status_cold_s "$(since "$t0")"

    log "$TARGET: git status, warm"
    t0=$(now)
    clean_status "$dir" "(warm) after the clone"
    result status_warm_s "$(since "$t0")"

    if [ -n "$CO_ID" ]; then
        log "$TARGET: git checkout $GIT_CHECKOUT ($NCHANGED files change)"
        t0=$(now)
        git -C "$dir" checkout -q --detach "$CO_ID" || die "$TARGET: git checkout failed"
        sync -f "$dir"
        result checkout_s "$(since "$t0")"
        [ "$(git -C "$dir" rev-parse HEAD)" = "$CO_ID" ] || die "$TARGET: HEAD is not $CO_ID after the checkout"
        clean_status "$dir" "after the checkout"
    fi

    if [ "$VERIFY" = 1 ]; then
        log "$TARGET: verify (every file hashed again, untimed)"
        git -C "$dir" read-tree HEAD
        clean_status "$dir" "after re-hashing every file"
    fi
}

run_targets workload

ROWS=(--row "clone_s=git clone + sync (s)"
    --row "clone_fps=git clone + sync (files/s)"
    --row "status_cold_s=git status, cold (s)"
    --row "status_warm_s=git status, warm (s)")
CO_NOTE=""
if [ -n "$CO_ID" ]; then
    ROWS+=(--row "checkout_s=git checkout $GIT_CHECKOUT + sync, $NCHANGED files change (s)")
    CO_NOTE=" The checkout runs warm, right after the statuses."
fi
report "git: clone, status and checkout of a repository of $NFILES files ($((NBYTES / 1048576)) MiB)" \
    "${ROWS[@]}" \
    --note "Source: $SRC_DESC; pack $((PACK_BYTES / 1048576)) MiB, in a bare repository on local disk (read once before each clone). $(git --version), defaults only (no system or global config); \`git clone file://...\` (the git transport, no hard links). Caches are dropped before the clone and before the cold status.$CO_NOTE Seconds: lower is better; files/s: higher is better."
finish
