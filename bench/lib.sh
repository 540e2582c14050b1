# bench/lib.sh: shared helpers for the ferrofs benchmark scripts. Source it, don't run it.
#
# It provides:
#   - knobs common to every script (QUICK, BENCH_TMP, FERROFS_BIN, TARGETS, KEEP, ...),
#   - progress/error output (log, die), a root check, a cleanup stack run on exit,
#   - the three targets: a plain local directory, a ferrofs cluster (master + N
#     chunkservers as separate processes, mounted with `ferrofs mount`), and a MooseFS
#     cluster (master + N chunkservers + mfsmount) in a network namespace of its own,
#   - run_targets: runs a workload function once per target, each target in a subshell
#     that starts the target, runs the workload and always tears the target down; a target
#     that fails is recorded as FAILED and the others still run,
#   - result/report: per-target figures collected in a TSV and printed as a markdown table
#     with the ratios ferrofs/local and ferrofs/moosefs (bench/report.py).
#
# Everything a script starts (processes, mounts, the namespace, the work directory) is
# torn down on exit, including on errors and Ctrl-C.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
BENCH_NAME=${BENCH_NAME:-$(basename "$0" .sh)}

# ---- knobs shared by all scripts ---------------------------------------------------------
: "${QUICK:=0}"                    # 1: fast smoke run with small sizes
: "${BENCH_TMP:=/var/tmp}"         # work directories go here (same disk as the local target)
: "${FERROFS_BIN:=$REPO_DIR/target/release/ferrofs}"
: "${TARGETS:=local ferrofs moosefs}"
: "${KEEP:=0}"                     # 1: keep the work directory (data + logs) after the run
: "${LOG_KEEP_DIR:=$BENCH_TMP/ferrofs-bench-logs}"  # daemon logs are copied here on failure
: "${FERRO_CHUNK_SIZE:=64MiB}"
: "${FERRO_REPLICATION:=3}"
: "${FERRO_MASTERS:=1}"            # members of ferrofs's master group (1, 3 or 5)
: "${FERRO_TLS:=0}"                # 1: ferrofs with mutual TLS on every link (target ferrofs-tls)
: "${FERRO_CS_CONFIG:=}"            # a TOML file for every chunkserver (--config; its [chunkserver] section)
: "${MFS_GOAL:=3}"
: "${MFS_IP:=198.18.0.1}"          # the namespace's address (MooseFS refuses 127.0.0.0/8)
: "${RESULTS_OUT:=}"               # if set, the markdown fragment is written here too

# ---- output --------------------------------------------------------------------------------
log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$BENCH_NAME" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (FUSE mounts, network namespaces, drop_caches)"
}
need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "needs '$c' (apt-get install it)"
    done
}

now() { date +%s.%N; }
# seconds since $1 (a `now` value), 3 decimals
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# awk arithmetic: calc '2 * 3 / 4' -> 1.5 (6 significant digits); n/a on division by zero
calc() { awk "BEGIN { printf \"%.6g\", ($*) }" 2>/dev/null || echo "n/a"; }
# bytes from sizes like 64M, 1G, 2GiB, 512k, 1048576
to_bytes() {
    python3 - "$1" <<'EOF'
import re, sys
s = sys.argv[1].strip()
m = re.fullmatch(r'(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?', s)
if not m:
    sys.exit(f"bad size: {s}")
mult = {'': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}[m.group(2).lower()]
print(int(float(m.group(1)) * mult))
EOF
}

drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until TIMEOUT_S DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
    local timeout=$1 what=$2
    shift 2
    local start
    start=$(now)
    until "$@" >/dev/null 2>&1; do
        if awk -v a="$start" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
            log "timed out after ${timeout}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

pid_alive() {
    [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Is PID a child of this shell? (Guards against signalling a recycled PID.)
is_child() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }                     # drop "pid (comm) "; comm may contain spaces
    [ "$(echo "$st" | awk '{ print $2 }')" = "$BASHPID" ]
}

# stop_pid PID [SIGNAL] [TIMEOUT_S]: signal a process this shell started, wait for it,
# SIGKILL it if it does not exit in time, and reap it. Does nothing to a PID that is not
# this shell's child (already gone and maybe reused).
stop_pid() {
    local pid=${1:-} sig=${2:-TERM} timeout=${3:-15} i
    [ -n "$pid" ] || return 0
    if is_child "$pid" && pid_alive "$pid"; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
        if pid_alive "$pid"; then
            log "pid $pid did not stop after SIG$sig in ${timeout}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

# Unmount PATH if it is a mount point (lazy unmount as the fallback).
unmount_path() {
    local p=$1 i
    for ((i = 0; i < 10; i++)); do
        grep -qs " $p " /proc/mounts || return 0
        umount "$p" 2>/dev/null && return 0
        sleep 0.5
    done
    umount -l "$p" 2>/dev/null || true
}

# ---- cleanup stack ------------------------------------------------------------------------
_CLEANUPS=()
defer() { _CLEANUPS+=("$*"); }
run_cleanups() {
    local i
    for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${_CLEANUPS[i]}" || true
    done
    _CLEANUPS=()
}
_on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    run_cleanups
    exit "$rc"
}
_subshell_traps() {
    _CLEANUPS=()
    trap _on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
_subshell_traps

# ---- work directory ------------------------------------------------------------------------
# Creates $WORK under $BENCH_TMP; removed on exit (after everything under it is unmounted).
setup_work() {
    mkdir -p "$BENCH_TMP"
    WORK=$(mktemp -d "$BENCH_TMP/ferrofs-bench.$BENCH_NAME.XXXXXX")
    RESULTS_TSV=$WORK/results.tsv
    : >"$RESULTS_TSV"
    export WORK RESULTS_TSV
    defer _remove_work
    log "work directory: $WORK (on $(df --output=source "$WORK" | tail -1))"
}
_remove_work() {
    local m
    # Never rm -rf through a live mount.
    for m in $(awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
        unmount_path "$m"
    done
    if [ "$KEEP" = 1 ]; then
        log "KEEP=1: leaving $WORK"
        return
    fi
    if awk -v w="$WORK" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        log "something is still mounted under $WORK: not deleting it"
        return
    fi
    rm -rf "$WORK"
}

# Copy the daemons' logs somewhere that survives the work directory (called on failure).
save_logs() {
    local dest
    dest=$LOG_KEEP_DIR/$BENCH_NAME-$(date +%Y%m%d-%H%M%S)-$1
    mkdir -p "$dest"
    (cd "$WORK" && find . -name '*.log' -size -200M -exec cp --parents {} "$dest/" \;) 2>/dev/null || true
    log "logs saved in $dest"
}

# ---- ferrofs -------------------------------------------------------------------------------
check_ferrofs_bin() {
    [ -x "$FERROFS_BIN" ] || die "no ferrofs binary at $FERROFS_BIN: build it with 'cargo build --release --bin ferrofs' (or set FERROFS_BIN)"
}

ferrofs() { "$FERROFS_BIN" "$@"; }

ferrofs_status() { FERROFS_MASTER=$FERRO_URL "$FERROFS_BIN" admin status --json; }

# curl to the cluster's endpoints (with the client certificate under TLS).
fcurl() {
    if [ "${FERRO_SCHEME:-http}" = https ]; then
        local d=$FERRO_DIR/tls/node
        curl --cacert "$d/ca.pem" --cert "$d/cert.pem" --key "$d/key.pem" "$@"
    else
        curl "$@"
    fi
}

# With FERRO_TLS=1: a cluster CA and one certificate for every local process, exported
# as FERROFS_TLS so each ferrofs process (roles, mount, CLI) speaks mutual TLS.
_ferrofs_tls() {
    FERRO_SCHEME=http
    if [ "$FERRO_TLS" = 1 ]; then
        "$FERROFS_BIN" ca init "$FERRO_DIR/tls/ca" >/dev/null
        "$FERROFS_BIN" ca issue "$FERRO_DIR/tls/ca" "$FERRO_DIR/tls/node" --name node \
            --host 127.0.0.1 --host localhost >/dev/null
        export FERROFS_TLS=$FERRO_DIR/tls/node
        FERRO_SCHEME=https
    fi
}

# Number of chunkservers the master counts as alive, and whether it left safe mode.
_ferrofs_ready() {
    local want=$1
    ferrofs_status 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
alive = sum(1 for c in s["chunkservers"] if c["alive"])
sys.exit(0 if alive >= int(sys.argv[1]) and not s["safe_mode"] else 1)' "$want"
}

# ferrofs_start [--chunkservers N] [--masters M] [--dead-timeout 5s] [--no-mount]
# Sets FERRO_DIR FERRO_URL (every master, comma-separated) FERRO_MASTER_PIDS[]
# FERRO_MASTER_PORTS[] FERRO_CS_PIDS[] FERRO_CS_PORTS[] FERRO_MNT.
ferrofs_start() {
    local ncs=3 nm=$FERRO_MASTERS dead="" mount=1 i
    while (($#)); do
        case $1 in
        --chunkservers) ncs=$2; shift 2 ;;
        --masters) nm=$2; shift 2 ;;
        --dead-timeout) dead=$2; shift 2 ;;
        --no-mount) mount=0; shift ;;
        *) die "ferrofs_start: unknown argument $1" ;;
        esac
    done
    check_ferrofs_bin
    FERRO_DIR=$WORK/ferrofs
    mkdir -p "$FERRO_DIR"
    FERRO_NCS=$ncs
    FERRO_NM=$nm
    FERRO_MNT=""
    FERRO_MOUNT_PID=""
    FERRO_CS_PIDS=()
    FERRO_CS_PORTS=()
    FERRO_MASTER_PIDS=()
    FERRO_MASTER_PORTS=()
    FERRO_DEAD=$dead
    _ferrofs_tls
    local urls=() peers=()
    for ((i = 0; i < nm; i++)); do
        FERRO_MASTER_PORTS[i]=$(free_port)
        urls+=("$FERRO_SCHEME://127.0.0.1:${FERRO_MASTER_PORTS[i]}")
        peers+=("$((i + 1))=127.0.0.1:${FERRO_MASTER_PORTS[i]}")
    done
    FERRO_URL=$(IFS=,; echo "${urls[*]}")
    FERRO_PEERS=$(IFS=,; echo "${peers[*]}")
    defer ferrofs_stop
    log "ferrofs: $nm master(s) on $FERRO_URL, $ncs chunkservers, chunk size $FERRO_CHUNK_SIZE, replication $FERRO_REPLICATION${dead:+, dead timeout $dead}${FERROFS_TLS:+, TLS}"
    for ((i = 0; i < nm; i++)); do
        ferrofs_start_master "$i"
    done
    wait_until 60 "a ferrofs master leader" ferrofs_leader_url || {
        tail -20 "$FERRO_DIR"/master*.log >&2
        die "ferrofs masters did not elect a leader (logs: $FERRO_DIR/master*.log)"
    }
    FERRO_MASTER_PID=${FERRO_MASTER_PIDS[0]}
    for ((i = 0; i < ncs; i++)); do
        ferrofs_start_cs "$i"
    done
    wait_until 60 "$ncs ferrofs chunkservers to register" _ferrofs_ready "$ncs" || {
        tail -5 "$FERRO_DIR"/cs*.log >&2
        die "ferrofs chunkservers did not register"
    }
    if [ "$mount" = 1 ]; then
        ferrofs_mount
    fi
}

# (Re)start master I (0-based) on its port and data dir.
ferrofs_start_master() {
    local i=$1 group=()
    [ "$FERRO_NM" -gt 1 ] && group=(--id "$((i + 1))" --peers "$FERRO_PEERS")
    "$FERROFS_BIN" master --listen "127.0.0.1:${FERRO_MASTER_PORTS[i]}" --data "$FERRO_DIR/master$i" \
        --chunk-size "$FERRO_CHUNK_SIZE" --replication "$FERRO_REPLICATION" "${group[@]}" \
        ${FERRO_DEAD:+--dead-timeout "$FERRO_DEAD"} >>"$FERRO_DIR/master$i.log" 2>&1 &
    FERRO_MASTER_PIDS[i]=$!
}

# Print the URL of the master that leads now (fails if none does).
ferrofs_leader_url() {
    local i
    for ((i = 0; i < FERRO_NM; i++)); do
        if fcurl -sf -m 1 "$FERRO_SCHEME://127.0.0.1:${FERRO_MASTER_PORTS[i]}/health" | grep -q '"leader":true'; then
            echo "$FERRO_SCHEME://127.0.0.1:${FERRO_MASTER_PORTS[i]}"
            return 0
        fi
    done
    return 1
}

# Index (0-based) of the leading master.
ferrofs_leader_index() {
    local i
    for ((i = 0; i < FERRO_NM; i++)); do
        if fcurl -sf -m 1 "$FERRO_SCHEME://127.0.0.1:${FERRO_MASTER_PORTS[i]}/health" | grep -q '"leader":true'; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# (Re)start chunkserver I on its data dir and port (a restart reuses both).
ferrofs_start_cs() {
    local i=$1
    [ -n "${FERRO_CS_PORTS[i]:-}" ] || FERRO_CS_PORTS[i]=$(free_port)
    "$FERROFS_BIN" chunkserver --master "$FERRO_URL" --listen "127.0.0.1:${FERRO_CS_PORTS[i]}" \
        --data "$FERRO_DIR/cs$i" ${FERRO_CS_CONFIG:+--config "$FERRO_CS_CONFIG"} >>"$FERRO_DIR/cs$i.log" 2>&1 &
    FERRO_CS_PIDS[i]=$!
}

ferrofs_mount() {
    FERRO_MNT=$WORK/mnt-ferrofs
    mkdir -p "$FERRO_MNT"
    "$FERROFS_BIN" mount --master "$FERRO_URL" "$FERRO_MNT" >"$FERRO_DIR/mount.log" 2>&1 &
    FERRO_MOUNT_PID=$!
    local ok=0 i
    for ((i = 0; i < 150; i++)); do
        if mountpoint -q "$FERRO_MNT"; then ok=1; break; fi
        pid_alive "$FERRO_MOUNT_PID" || break
        sleep 0.2
    done
    if [ "$ok" = 1 ]; then
        # A mount that exists but cannot create, write, read and delete a file is no use.
        if ! (echo ferrofs-bench-probe >"$FERRO_MNT/.bench-probe" &&
            [ "$(cat "$FERRO_MNT/.bench-probe")" = ferrofs-bench-probe ] &&
            rm "$FERRO_MNT/.bench-probe") 2>>"$FERRO_DIR/mount.log"; then
            ok=0
        fi
    fi
    if [ "$ok" != 1 ]; then
        log "---- last lines of $FERRO_DIR/mount.log ----"
        tail -20 "$FERRO_DIR/mount.log" >&2 || true
        die "the ferrofs FUSE mount is not working ('ferrofs mount --master $FERRO_URL $FERRO_MNT' did not give a usable mount). Run with TARGETS='local moosefs' to skip ferrofs."
    fi
    log "ferrofs mounted at $FERRO_MNT"
}

ferrofs_stop() {
    local i
    [ -n "${FERRO_DIR:-}" ] || return 0
    if [ -n "${FERRO_MNT:-}" ]; then
        unmount_path "$FERRO_MNT"
        stop_pid "${FERRO_MOUNT_PID:-}" TERM 10
    fi
    for i in "${!FERRO_CS_PIDS[@]}"; do
        stop_pid "${FERRO_CS_PIDS[i]}" TERM 15
    done
    for i in "${!FERRO_MASTER_PIDS[@]}"; do
        stop_pid "${FERRO_MASTER_PIDS[i]}" TERM 15
    done
    # Free the disk for the next target; the logs stay until the work dir goes.
    [ "$KEEP" = 1 ] || rm -rf "$FERRO_DIR"/master*/ "$FERRO_DIR"/cs*/
    FERRO_DIR=""
}

# ---- MooseFS -------------------------------------------------------------------------------
moosefs_install() {
    local p missing=()
    for p in moosefs-master moosefs-chunkserver moosefs-client moosefs-cli; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
            die "could not install ${missing[*]}"
    fi
}

# Run a command inside the MooseFS namespace. (Daemons are started with `mfs_bg`: a
# backgrounded shell function would leave $! pointing at a subshell, not the daemon.)
mfs() { nsenter --net="/run/netns/$MFS_NS" "$@"; }
mfscli_() { mfs mfscli -H "$MFS_IP" -P 9421 "$@"; }

# moosefs_start [--chunkservers N] [--no-mount]
# Sets MFS_NS MFS_DIR MFS_MASTER_PID MFS_CS_PIDS[] MFS_MNT.
moosefs_start() {
    local ncs=3 mount=1 i
    while (($#)); do
        case $1 in
        --chunkservers) ncs=$2; shift 2 ;;
        --no-mount) mount=0; shift ;;
        *) die "moosefs_start: unknown argument $1" ;;
        esac
    done
    moosefs_install
    need_cmd ip nsenter
    MFS_NS=ferrofs-bench-$$-$BASHPID
    MFS_DIR=$WORK/moosefs
    MFS_MNT=""
    MFS_MOUNT_PID=""
    MFS_CS_PIDS=()
    MFS_NCS=$ncs
    mkdir -p "$MFS_DIR/master"
    defer moosefs_stop
    ip netns add "$MFS_NS"
    ip -n "$MFS_NS" link set lo up
    ip -n "$MFS_NS" addr add "$MFS_IP/32" dev lo
    log "moosefs: namespace $MFS_NS ($MFS_IP), $ncs chunkservers, goal $MFS_GOAL"
    cp /var/lib/mfs/metadata.mfs.empty "$MFS_DIR/master/metadata.mfs"
    echo "*  /  rw,alldirs,admin,maproot=0:0" >"$MFS_DIR/mfsexports.cfg"
    : >"$MFS_DIR/mfstopology.cfg"
    cat >"$MFS_DIR/mfsmaster.cfg" <<EOF
WORKING_USER = root
WORKING_GROUP = root
DATA_PATH = $MFS_DIR/master
EXPORTS_FILENAME = $MFS_DIR/mfsexports.cfg
TOPOLOGY_FILENAME = $MFS_DIR/mfstopology.cfg
MATOML_LISTEN_HOST = $MFS_IP
MATOCS_LISTEN_HOST = $MFS_IP
MATOCL_LISTEN_HOST = $MFS_IP
REPLICATIONS_DELAY_INIT = 0
${MFS_MASTER_EXTRA:-}
EOF
    nsenter --net="/run/netns/$MFS_NS" mfsmaster -c "$MFS_DIR/mfsmaster.cfg" -f >"$MFS_DIR/master.log" 2>&1 &
    MFS_MASTER_PID=$!
    wait_until 30 "the MooseFS master" mfscli_ -SIG || {
        tail -20 "$MFS_DIR/master.log" >&2
        die "MooseFS master did not start"
    }
    for ((i = 0; i < ncs; i++)); do
        moosefs_start_cs "$i"
    done
    wait_until 60 "$ncs MooseFS chunkservers" _moosefs_ncs_is "$ncs" || die "MooseFS chunkservers did not connect"
    if [ "$mount" = 1 ]; then
        MFS_MNT=$WORK/mnt-moosefs
        mkdir -p "$MFS_MNT"
        nsenter --net="/run/netns/$MFS_NS" mfsmount -f -H "$MFS_IP" -P 9421 "$MFS_MNT" >"$MFS_DIR/mount.log" 2>&1 &
        MFS_MOUNT_PID=$!
        wait_until 30 "the MooseFS mount" mountpoint -q "$MFS_MNT" || {
            tail -20 "$MFS_DIR/mount.log" >&2
            die "mfsmount failed"
        }
        mfs mfssetgoal -r "$MFS_GOAL" "$MFS_MNT" >/dev/null
        log "moosefs mounted at $MFS_MNT"
    fi
}

moosefs_start_cs() {
    local i=$1 d=$MFS_DIR/cs$1
    mkdir -p "$d/hdd"
    echo "$d/hdd" >"$d/mfshdd.cfg"
    cat >"$MFS_DIR/cs$i.cfg" <<EOF
WORKING_USER = root
WORKING_GROUP = root
DATA_PATH = $d
HDD_CONF_FILENAME = $d/mfshdd.cfg
MASTER_HOST = $MFS_IP
MASTER_PORT = 9420
BIND_HOST = $MFS_IP
CSSERV_LISTEN_HOST = $MFS_IP
CSSERV_LISTEN_PORT = $((9422 + i))
EOF
    nsenter --net="/run/netns/$MFS_NS" mfschunkserver -c "$MFS_DIR/cs$i.cfg" -f >>"$MFS_DIR/cs$i.log" 2>&1 &
    MFS_CS_PIDS[i]=$!
}

# Connected chunkserver ports, one a line.
moosefs_cs_ports() { mfscli_ -SCS 2>/dev/null | awk -F'\t' '/^chunk servers:/ { print $3 }'; }
_moosefs_ncs_is() { [ "$(moosefs_cs_ports | wc -l)" -ge "$1" ]; }

# "missing endangered undergoal stable overgoal" from the master's chunk matrix.
moosefs_chunk_classes() {
    mfscli_ -SIC 2>/dev/null | awk -F'\t' '
        /^all chunks matrix:/ && $2 ~ /chunkclass/ {
            k = $2; sub(/.*chunkclass /, "", k); sub(/:$/, "", k); v[k] = $3 }
        END { printf "%d %d %d %d %d\n", v["missing"], v["endangered"], v["undergoal"], v["stable"], v["overgoal"] }'
}

moosefs_stop() {
    local i
    [ -n "${MFS_NS:-}" ] || return 0
    if [ -n "${MFS_MNT:-}" ]; then
        unmount_path "$MFS_MNT"
        stop_pid "${MFS_MOUNT_PID:-}" TERM 10
    fi
    for i in "${!MFS_CS_PIDS[@]}"; do
        stop_pid "${MFS_CS_PIDS[i]}" TERM 30
    done
    stop_pid "${MFS_MASTER_PID:-}" TERM 30
    ip netns del "$MFS_NS" 2>/dev/null || true
    [ "$KEEP" = 1 ] || rm -rf "$MFS_DIR/master" "$MFS_DIR"/cs*/hdd
    MFS_NS=""
}

# ---- targets -------------------------------------------------------------------------------
# target_start NAME: start the target and set TARGET_DIR to an empty directory on it.
target_start() {
    case $1 in
    local)
        TARGET_DIR=$WORK/local
        [ "$KEEP" = 1 ] || defer "rm -rf '$TARGET_DIR'"
        ;;
    ferrofs)
        ferrofs_start --chunkservers 3
        TARGET_DIR=$FERRO_MNT/bench
        ;;
    ferrofs3)
        ferrofs_start --chunkservers 3 --masters 3
        TARGET_DIR=$FERRO_MNT/bench
        ;;
    ferrofs-tls)
        FERRO_TLS=1 ferrofs_start --chunkservers 3
        TARGET_DIR=$FERRO_MNT/bench
        ;;
    moosefs)
        moosefs_start --chunkservers 3
        TARGET_DIR=$MFS_MNT/bench
        ;;
    *) die "unknown target $1 (local, ferrofs, ferrofs3, ferrofs-tls, moosefs)" ;;
    esac
    mkdir -p "$TARGET_DIR"
}

# result KEY VALUE: record a figure for the current target ($TARGET).
result() {
    printf '%s\t%s\t%s\n' "${TARGET:?}" "$1" "$2" >>"$RESULTS_TSV"
    log "  $TARGET $1 = $2"
}

# run_targets WORKLOAD_FUNCTION: for each target in $TARGETS, in a subshell: start it, run
# `WORKLOAD_FUNCTION TARGET_DIR`, tear it down. A failing target is recorded as FAILED.
FAILED_TARGETS=()
run_targets() {
    local fn=$1 t rc
    for t in $TARGETS; do
        log "=== $t ==="
        set +e
        (
            set -e
            TARGET=$t
            _subshell_traps
            target_start "$t"
            "$fn" "$TARGET_DIR"
        )
        rc=$?
        set -e
        if [ "$rc" != 0 ]; then
            log "=== $t FAILED (exit $rc) ==="
            printf '%s\t%s\t%s\n' "$t" _failed "exit $rc" >>"$RESULTS_TSV"
            FAILED_TARGETS+=("$t")
            save_logs "$t"
        fi
    done
}

# run_one NAME FUNCTION: like run_targets for a single named step (e.g. "ferrofs").
run_one() {
    local t=$1 fn=$2 rc
    log "=== $t ==="
    set +e
    (
        set -e
        TARGET=$t
        _subshell_traps
        "$fn"
    )
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then
        log "=== $t FAILED (exit $rc) ==="
        printf '%s\t%s\t%s\n' "$t" _failed "exit $rc" >>"$RESULTS_TSV"
        FAILED_TARGETS+=("$t")
        save_logs "$t"
    fi
}

# report TITLE [report.py args...]: print the markdown fragment (and write it to RESULTS_OUT).
# The fragment starts with the title, the command and the knobs, then the table.
report() {
    local title=$1
    shift
    local out
    out=$(
        echo "## $title"
        echo
        echo "Command: \`$(report_command)\`"
        echo
        python3 "$BENCH_DIR/report.py" "$RESULTS_TSV" "$@"
    )
    printf '\n%s\n\n' "$out"
    if [ -n "$RESULTS_OUT" ]; then
        printf '%s\n' "$out" >"$RESULTS_OUT"
    fi
}
# The script's command line with the knobs that were set in the environment.
REPORT_KNOBS=${REPORT_KNOBS:-QUICK SIZE RUNTIME FILES TARGETS}
report_command() {
    local k s=""
    for k in $REPORT_KNOBS; do
        [ "$k:${!k:-}" != QUICK:0 ] || continue
        if [ -n "${!k:-}" ]; then
            case ${!k} in
            *[[:space:]]*) s+="$k='${!k}' " ;;
            *) s+="$k=${!k} " ;;
            esac
        fi
    done
    printf '%sbench/%s.sh' "$s" "$BENCH_NAME"
}

finish() {
    if ((${#FAILED_TARGETS[@]})); then
        log "done, but these failed: ${FAILED_TARGETS[*]}"
        exit 1
    fi
    log "done"
}
