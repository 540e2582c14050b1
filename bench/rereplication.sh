#!/usr/bin/env bash
# bench/rereplication.sh: how fast a cluster restores replication after losing a server,
# how it handles the server coming back, and how fast an empty server joining gets its
# share. Three steps, all on the same disk:
#
#   disk     raw sequential write speed: dd if=/dev/zero bs=1M count=SIZE oflag=direct.
#   ferrofs  master (--dead-timeout DEAD_TIMEOUT, default 5s instead of the default 30s)
#            + 4 chunkservers, replication 3, 64 MiB chunks. SIZE of data is written with
#            `ferrofs put` (files of up to 256 MiB), and the script waits until every
#            chunk has 3 replicas, then SETTLE s. Then the chunkserver with the most data
#            on disk (du of its data directory) is killed
#            with SIGKILL and the master's /api/v1/status is polled (bench/healpoll.py,
#            one process on a kept-open connection, which also sends the kill): the
#            master declares it dead (alive=false), and restoring is done when
#            under_replicated == 0 and missing == 0 (and the copies made cover the dead
#            server's chunks).
#            Restore speed = bytes the dead server held (du of its data directory just
#            before the kill) / seconds, counted from the master declaring it
#            dead and from the kill. Then the dead server is restarted on the same data
#            and port, and the script times until it is alive again and until
#            over_replicated == 0 (its copies are surplus by then). Last, an empty fifth
#            chunkserver joins, and the script times until it holds JOIN_SHARE (0.8)
#            of the mean number of chunk files per server (the balancer's work).
#   moosefs  the same with MooseFS: 4 chunkservers, goal 3, data written through the
#            mount with dd; the chunkserver with the largest chunk directory is killed
#            with SIGKILL; "declared dead" is when it is gone from `mfscli -SCS`;
#            restoring is done when the master's chunk matrix (`mfscli -SIC`) shows no
#            missing, endangered or undergoal chunk and `mfsfileinfo` shows every chunk
#            of every file with GOAL valid copies on servers other than the dead one. The bytes are the victim's chunk directory
#            (du). Restart: until overgoal == 0 in `mfscli -SIC`. MooseFS runs with its
#            defaults except REPLICATIONS_DELAY_INIT = 0. A step that does not finish in
#            TIMEOUT seconds is reported as such, with what was left. The join is the
#            same with a fifth MooseFS chunkserver, counting its chunk_* files; it gives
#            up after JOIN_TIMEOUT (300 s).
#
# The page cache is dropped just before each kill, so the copies read from disk.
#
# Knobs: SIZE (default 2G; QUICK=1: 256M), DEAD_TIMEOUT (5s), TIMEOUT (600 s per wait),
#        RETURN_GRACE (30 s: how long to wait for a returning server's surplus copies
#        to show up before concluding there are none), SETTLE (0 s: pause between the
#        end of the writes and the kill; ferrofs leases end when a file is closed, so
#        none is needed), JOIN_TIMEOUT, JOIN_SHARE, TARGETS (default
#        "disk ferrofs moosefs"), QUICK, BENCH_TMP, FERROFS_BIN, KEEP, FERRO_CS_CONFIG (a
#        chunkserver config file, for A/B runs of its copy settings).
# Run as root: bench/rereplication.sh   or   QUICK=1 bench/rereplication.sh
: "${TARGETS:=disk ferrofs moosefs}"
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${SIZE:=256M}"
else
    : "${SIZE:=2G}"
fi
: "${DEAD_TIMEOUT:=5s}" "${TIMEOUT:=600}" "${RETURN_GRACE:=30}" "${SETTLE:=0}"
: "${JOIN_TIMEOUT:=300}" "${JOIN_SHARE:=0.8}"
REPORT_KNOBS="QUICK SIZE DEAD_TIMEOUT TIMEOUT SETTLE JOIN_TIMEOUT JOIN_SHARE TARGETS"

require_root
need_cmd python3 curl dd
setup_work

SIZE_B=$(to_bytes "$SIZE")
FILE_B=$((SIZE_B < 268435456 ? SIZE_B : 268435456))
NFILES=$(((SIZE_B + FILE_B - 1) / FILE_B))
SRC=$WORK/src.dat
log "source: $NFILES file(s) of $((FILE_B / 1048576)) MiB from /dev/urandom"
head -c "$FILE_B" /dev/urandom >"$SRC"

gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
mib() { calc "$1 / 1048576"; }

# join_wait NAME NEWDIR ALLDIRS GLOB: time until the server added with data directory
# NEWDIR holds JOIN_SHARE of the average number of chunk files (GLOB) per server over
# ALLDIRS (its own included); records join_s, join_chunks and join_target.
join_wait() {
    local name=$1 newdir=$2 alldirs=$3 glob=$4 t0 have total n target last_log
    n=$(echo "$alldirs" | wc -w)
    t0=$(now)
    last_log=$t0
    while :; do
        have=$(find "$newdir" -name "$glob" 2>/dev/null | wc -l)
        # shellcheck disable=SC2086
        total=$(find $alldirs -name "$glob" 2>/dev/null | wc -l)
        target=$(awk -v t="$total" -v n="$n" -v s="$JOIN_SHARE" 'BEGIN { printf "%d", t / n * s }')
        if ((target > 0 && have >= target)); then
            result join_s "$(since "$t0")"
            break
        fi
        if gt "$(since "$t0")" "$JOIN_TIMEOUT"; then
            result join_s "not reached in ${JOIN_TIMEOUT}s"
            break
        fi
        if gt "$(since "$last_log")" 10; then
            log "  join +$(since "$t0")s: new server holds $have of $target chunks"
            last_log=$(now)
        fi
        sleep 0.5
    done
    result join_chunks "$have"
    result join_target "$target"
    log "$name join: new server holds $have chunks (target $target) after $(since "$t0")s"
}

# ---- disk ----------------------------------------------------------------------------------
disk_step() {
    local t0 secs
    log "raw disk: dd $((SIZE_B / 1048576)) MiB, oflag=direct"
    t0=$(now)
    dd if=/dev/zero of="$WORK/dd.test" bs=1M count=$((SIZE_B / 1048576)) oflag=direct status=none
    secs=$(since "$t0")
    rm -f "$WORK/dd.test"
    result disk_write_mibs "$(calc "$SIZE_B / 1048576 / $secs")"
}

disk_mibs() { awk -F'\t' '$1 == "disk" && $2 == "disk_write_mibs" { print $3 }' "$RESULTS_TSV"; }

# ---- ferrofs -------------------------------------------------------------------------------
# ferro_health VICTIM_ID -> "victim_alive victim_chunks victim_used under missing over
#                            total healthy completed replicas goal_replicas"
ferro_health() {
    ferrofs_status | python3 -c '
import json, sys
s = json.load(sys.stdin)
v = [c for c in s["chunkservers"] if c["id"] == sys.argv[1]]
v = v[0] if v else {"alive": False, "chunks": 0, "used_bytes": 0}
ch = s["chunks"]
reps = sum(c["chunks"] for c in s["chunkservers"] if c["alive"])
print(int(v["alive"]), v["chunks"], v["used_bytes"], ch["under_replicated"], ch["missing"],
      ch["over_replicated"], ch["total"], ch["healthy"], s["rereplication"]["completed"],
      reps, ch["total"] * s["default_replication"])' "$1"
}

ferrofs_step() {
    local i t0
    ferrofs_start --chunkservers 4 --dead-timeout "$DEAD_TIMEOUT" --no-mount
    export FERROFS_MASTER=$FERRO_URL
    ferrofs mkdir -p /rerep
    log "writing $NFILES file(s) with ferrofs put"
    t0=$(now)
    for ((i = 0; i < NFILES; i++)); do
        ferrofs put "$SRC" "/rerep/f$i"
    done
    result write_mibs "$(calc "$SIZE_B / 1048576 / $(since "$t0")")"

    log "waiting until every chunk has $FERRO_REPLICATION replicas"
    _ferro_settled() {
        ferrofs_status | python3 -c '
import json, sys
s = json.load(sys.stdin); c = s["chunks"]
sys.exit(0 if c["total"] > 0 and c["healthy"] == c["total"] and c["under_replicated"] == 0
         and c["missing"] == 0 and c["over_replicated"] == 0 else 1)'
    }
    wait_until "$TIMEOUT" "ferrofs to settle" _ferro_settled || die "ferrofs never reached full replication after the writes"

    log "pausing ${SETTLE}s so that write leases expire (SETTLE)"
    sleep "$SETTLE"

    # Victim: the chunkserver with the most data on disk; its master id by its port.
    local v="" best=-1 b vid vaddr
    for i in "${!FERRO_CS_PIDS[@]}"; do
        b=$(du -sb "$FERRO_DIR/cs$i" | cut -f1)
        if ((b > best)); then best=$b; v=$i; fi
    done
    read -r vid vaddr < <(ferrofs_status | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = [c for c in s["chunkservers"] if c["addr"].rsplit(":", 1)[-1] == sys.argv[1]]
print(m[0]["id"], m[0]["addr"]) if m else print("", "")' "${FERRO_CS_PORTS[v]}")
    [ -n "$vid" ] || die "cs$v (port ${FERRO_CS_PORTS[v]}) is not in the master's chunkserver list"

    local alive vchunks vused under missing over total healthy copied0 reps goalreps
    read -r alive vchunks vused under missing over total healthy copied0 reps goalreps < <(ferro_health "$vid")
    local vbytes=$best
    log "victim: chunkserver $vid (cs$v, $vaddr): $vchunks chunks, $(mib "$vbytes") MiB on disk (master: used_bytes $(mib "$vused") MiB); cluster: $total chunks"
    result victim_mib "$(mib "$vbytes")"
    result victim_chunks "$vchunks"

    # --- kill ---
    # The copies must read the data from disk, not from the page cache of the writes.
    drop_caches
    # One long-lived poller (bench/healpoll.py) sends the kill and polls the master over
    # a kept-open connection: a status tool started per poll has to be read back from a
    # disk the copies saturate, and its start-up read as a slow detection.
    local t_kill t_dead t_done copied peak_under outcome
    log "killing cs$v with SIGKILL; polling the master's status (bench/healpoll.py)"
    read -r outcome t_kill t_dead t_done copied peak_under < <(
        python3 "$BENCH_DIR/healpoll.py" "$(ferrofs_leader_url)/api/v1/status" "$vid" \
            "${FERRO_CS_PIDS[v]}" "$TIMEOUT")
    wait "${FERRO_CS_PIDS[v]}" 2>/dev/null || true
    if [ "$outcome" != ok ]; then
        [ "$outcome" = timeout ] || die "bench/healpoll.py failed"
        log "ferrofs: not restored after ${TIMEOUT}s: under_replicated=$t_done missing=$copied"
        result restore_from_kill_s "timeout (${TIMEOUT}s, under_replicated=$t_done missing=$copied)"
        return 0
    fi
    log "master declared cs$v dead $(awk -v a="$t_kill" -v b="$t_dead" 'BEGIN { printf "%.3f", b - a }')s after the kill"
    copied=$((copied0 + copied))
    local from_dead from_kill
    from_dead=$(awk -v a="$t_dead" -v b="$t_done" 'BEGIN { printf "%.3f", b - a }')
    from_kill=$(awk -v a="$t_kill" -v b="$t_done" 'BEGIN { printf "%.3f", b - a }')
    log "restored: ${from_dead}s after the dead declaration, ${from_kill}s after the kill; copies made: $((copied - copied0)) (rereplication.completed); peak under_replicated: $peak_under"
    # Cross-check (untimed): the live servers' replica counts should add up to goal x chunks.
    _ferro_reps_ok() {
        read -r alive vchunks vused under missing over total healthy copied reps goalreps < <(ferro_health "$vid")
        ((reps >= goalreps))
    }
    if wait_until 15 "replica counts to add up" _ferro_reps_ok; then
        log "check: live replicas = goal x chunks ($goalreps)"
    else
        log "WARNING: under_replicated is 0 but live servers report $reps replicas for $total chunks x goal ($goalreps)"
    fi
    result detect_s "$(awk -v a="$t_kill" -v b="$t_dead" 'BEGIN { printf "%.3f", b - a }')"
    result restore_from_dead_s "$from_dead"
    result restore_from_kill_s "$from_kill"
    result restore_mibs_dead "$(calc "$vbytes / 1048576 / $from_dead")"
    result restore_mibs_kill "$(calc "$vbytes / 1048576 / $from_kill")"
    result copies "$((copied - copied0))"
    result peak_under "$peak_under"
    local d
    d=$(disk_mibs)
    [ -z "$d" ] || result restore_pct_disk "$(calc "100 * $vbytes / 1048576 / $from_dead / $d")"

    # --- return ---
    log "restarting cs$v on its old data"
    local t_start t_alive="" seen_over=0 peak_over=0
    t_start=$(now)
    ferrofs_start_cs "$v"
    while :; do
        read -r alive vchunks vused under missing over total healthy copied reps goalreps < <(ferro_health "$vid")
        if [ -z "$t_alive" ] && [ "$alive" = 1 ]; then
            t_alive=$(now)
            log "cs$v alive again after $(since "$t_start")s"
        fi
        if [ -n "$t_alive" ]; then
            ((over > 0 || reps > goalreps)) && seen_over=1
            ((over > peak_over)) && peak_over=$over
            if ((over == 0 && reps == goalreps)) && { ((seen_over)) || gt "$(since "$t_alive")" "$RETURN_GRACE"; }; then
                break
            fi
        fi
        if gt "$(since "$t_start")" "$TIMEOUT"; then
            log "ferrofs: over-replication not resolved after ${TIMEOUT}s: over_replicated=$over"
            result return_clean_s "timeout (${TIMEOUT}s, over_replicated=$over)"
            return 0
        fi
        sleep 0.25
    done
    result return_alive_s "$(awk -v a="$t_start" -v b="$t_alive" 'BEGIN { printf "%.3f", b - a }')"
    if ((seen_over)); then
        result return_clean_s "$(since "$t_start")"
    else
        result return_clean_s "none seen in ${RETURN_GRACE}s"
    fi
    result peak_over "$peak_over"
    result return_victim_mib "$(mib "$(du -sb "$FERRO_DIR/cs$v" | cut -f1)")"
    log "return: peak over_replicated $peak_over; cs$v now holds $vchunks chunks"

    # --- join ---
    log "adding an empty fifth chunkserver"
    ferrofs_start_cs 4
    join_wait ferrofs "$FERRO_DIR/cs4" "$(echo "$FERRO_DIR"/cs{0,1,2,3,4})" '*.dat'
}

# ---- MooseFS -------------------------------------------------------------------------------
# mfs_health [VICTIM_PORT] -> "missing endangered undergoal stable overgoal wrong", where
# the first five are the master's chunk matrix (mfscli -SIC) and wrong is the number of
# chunks that mfsfileinfo does not show with exactly GOAL valid copies (copies on
# VICTIM_PORT not counted), over all files.
mfs_health() {
    local classes wrong vport=${1:-}
    classes=$(moosefs_chunk_classes)
    wrong=$(for f in "$MFS_MNT"/rerep/*; do mfs mfsfileinfo "$f"; done 2>/dev/null |
        awk -v g="$MFS_GOAL" -v vp="${vport:+:$vport}" '
            /^[[:space:]]+chunk [0-9]+:/ { if (c && n != g) w++; c = 1; n = 0; next }
            /^[[:space:]]+copy [0-9]+:/ && /status:VALID/ { if (vp == "" || $3 !~ (vp "$")) n++ }
            END { if (c && n != g) w++; print w + 0 }')
    echo "$classes $wrong"
}

moosefs_step() {
    local i t0
    moosefs_start --chunkservers 4
    mkdir -p "$MFS_MNT/rerep"
    log "writing $NFILES file(s) through the MooseFS mount"
    t0=$(now)
    for ((i = 0; i < NFILES; i++)); do
        dd if="$SRC" of="$MFS_MNT/rerep/f$i" bs=1M conv=fsync status=none
    done
    result write_mibs "$(calc "$SIZE_B / 1048576 / $(since "$t0")")"

    log "waiting until every chunk has $MFS_GOAL copies"
    _mfs_settled() {
        local m e u s o w
        read -r m e u s o w < <(mfs_health)
        ((m == 0 && e == 0 && u == 0 && o == 0 && w == 0 && s > 0))
    }
    wait_until "$TIMEOUT" "MooseFS to settle" _mfs_settled || die "MooseFS never reached goal after the writes"
    log "pausing ${SETTLE}s (SETTLE, as for ferrofs)"
    sleep "$SETTLE"

    local v="" best=-1 b
    for i in "${!MFS_CS_PIDS[@]}"; do
        b=$(du -sb "$MFS_DIR/cs$i/hdd" | cut -f1)
        if ((b > best)); then best=$b; v=$i; fi
    done
    local vbytes=$best vport=$((9422 + v))
    log "victim: MooseFS chunkserver cs$v (port $vport): $(mib "$vbytes") MiB of chunk files"
    result victim_mib "$(mib "$vbytes")"
    result victim_chunks "$(find "$MFS_DIR/cs$v/hdd" -name 'chunk_*' | wc -l)"

    drop_caches
    # As for ferrofs: the polling tools start warm.
    moosefs_cs_ports >/dev/null
    mfscli_ -SIC >/dev/null 2>&1 || true
    mfs mfsfileinfo "$MFS_MNT"/rerep/* >/dev/null 2>&1 || true
    local t_kill t_dead="" t_done="" m e u s o w last_log peak_under=0
    t_kill=$(now)
    kill -KILL "${MFS_CS_PIDS[v]}"
    wait "${MFS_CS_PIDS[v]}" 2>/dev/null || true
    log "killed cs$v with SIGKILL; polling mfscli -SIC and mfsfileinfo"
    last_log=$t_kill
    # Until the master drops the server, poll only its server list, every 0.1 s.
    until [ -n "$t_dead" ]; do
        if ! moosefs_cs_ports | grep -qx "$vport"; then
            t_dead=$(now)
            log "master dropped cs$v $(since "$t_kill")s after the kill"
        elif gt "$(since "$t_kill")" "$TIMEOUT"; then
            die "MooseFS still lists cs$v ${TIMEOUT}s after the kill"
        else
            sleep 0.1
        fi
    done
    while :; do
        read -r m e u s o w < <(mfs_health "$vport")
        if [ -n "$t_dead" ]; then
            ((e + u > peak_under)) && peak_under=$((e + u))
            if ((m == 0 && e == 0 && u == 0 && w == 0)); then
                t_done=$(now)
                break
            fi
        fi
        if gt "$(since "$t_kill")" "$TIMEOUT"; then
            log "moosefs: not at goal after ${TIMEOUT}s: missing=$m endangered=$e undergoal=$u wrong-copies=$w"
            result restore_from_kill_s "timeout (${TIMEOUT}s, endangered=$e undergoal=$u missing=$m)"
            return 0
        fi
        if gt "$(since "$last_log")" 5; then
            log "  +$(since "$t_kill")s: missing=$m endangered=$e undergoal=$u stable=$s overgoal=$o"
            last_log=$(now)
        fi
        sleep 0.25
    done
    local from_dead from_kill
    from_dead=$(awk -v a="$t_dead" -v b="$t_done" 'BEGIN { printf "%.3f", b - a }')
    from_kill=$(awk -v a="$t_kill" -v b="$t_done" 'BEGIN { printf "%.3f", b - a }')
    log "restored: ${from_dead}s after the disconnect, ${from_kill}s after the kill"
    result detect_s "$(awk -v a="$t_kill" -v b="$t_dead" 'BEGIN { printf "%.3f", b - a }')"
    result restore_from_dead_s "$from_dead"
    result restore_from_kill_s "$from_kill"
    result restore_mibs_dead "$(calc "$vbytes / 1048576 / $from_dead")"
    result restore_mibs_kill "$(calc "$vbytes / 1048576 / $from_kill")"
    result peak_under "$peak_under"
    local d
    d=$(disk_mibs)
    [ -z "$d" ] || result restore_pct_disk "$(calc "100 * $vbytes / 1048576 / $from_dead / $d")"

    log "restarting cs$v on its old data"
    local t_start t_alive="" seen_over=0 peak_over=0
    t_start=$(now)
    moosefs_start_cs "$v"
    while :; do
        if [ -z "$t_alive" ] && moosefs_cs_ports | grep -qx "$vport"; then
            t_alive=$(now)
            log "cs$v connected again after $(since "$t_start")s"
        fi
        read -r m e u s o w < <(mfs_health)
        if [ -n "$t_alive" ]; then
            ((o > 0 || w > 0)) && seen_over=1
            ((o > peak_over)) && peak_over=$o
            if ((o == 0 && w == 0)) && { ((seen_over)) || gt "$(since "$t_alive")" "$RETURN_GRACE"; }; then
                break
            fi
        fi
        if gt "$(since "$t_start")" "$TIMEOUT"; then
            log "moosefs: overgoal not resolved after ${TIMEOUT}s: overgoal=$o"
            result return_alive_s "$(awk -v a="$t_start" -v b="${t_alive:-$t_start}" 'BEGIN { printf "%.3f", b - a }')"
            result return_clean_s "timeout (${TIMEOUT}s, overgoal=$o)"
            result peak_over "$peak_over"
            return 0
        fi
        if gt "$(since "$last_log")" 5; then
            log "  +$(since "$t_start")s: overgoal=$o undergoal=$u"
            last_log=$(now)
        fi
        sleep 0.5
    done
    result return_alive_s "$(awk -v a="$t_start" -v b="$t_alive" 'BEGIN { printf "%.3f", b - a }')"
    if ((seen_over)); then
        result return_clean_s "$(since "$t_start")"
    else
        result return_clean_s "none seen in ${RETURN_GRACE}s"
    fi
    result peak_over "$peak_over"
    result return_victim_mib "$(mib "$(du -sb "$MFS_DIR/cs$v/hdd" | cut -f1)")"

    # --- join ---
    log "adding an empty fifth chunkserver"
    moosefs_start_cs 4
    join_wait moosefs "$MFS_DIR/cs4/hdd" "$(echo "$MFS_DIR"/cs{0,1,2,3,4}/hdd)" 'chunk_*'
}

for step in $TARGETS; do
    case $step in
    disk | local) run_one disk disk_step ;;
    ferrofs) run_one ferrofs ferrofs_step ;;
    moosefs) run_one moosefs moosefs_step ;;
    *) die "unknown step $step (disk, ferrofs, moosefs)" ;;
    esac
done

report "Re-replication: $SIZE of data, one of 4 servers killed" \
    --targets disk,ferrofs,moosefs --ratios ferrofs/moosefs \
    --row "disk_write_mibs=raw disk write, dd oflag=direct (MiB/s)" \
    --row "write_mibs=writing the data, replication 3 (MiB/s)" \
    --row "victim_mib=data on the killed server (MiB)" \
    --row "victim_chunks=chunks on the killed server" \
    --row "detect_s=kill -> declared dead / disconnected (s)" \
    --row "restore_from_dead_s=declared dead -> fully replicated (s)" \
    --row "restore_from_kill_s=kill -> fully replicated (s)" \
    --row "restore_mibs_dead=restore speed from declared dead (MiB/s)" \
    --row "restore_mibs_kill=restore speed from the kill (MiB/s)" \
    --row "restore_pct_disk=restore speed from declared dead, % of raw disk write" \
    --row "peak_under=peak under-replicated chunks seen" \
    --row "return_alive_s=restart -> server alive again (s)" \
    --row "return_clean_s=restart -> no over-replicated chunk (s)" \
    --row "peak_over=peak over-replicated chunks seen" \
    --row "return_victim_mib=data on the returned server at the end (MiB)" \
    --row "join_s=empty fifth server added -> holds ${JOIN_SHARE} of the mean chunk count (s)" \
    --row "join_chunks=chunks on the fifth server at that point" \
    --note "ferrofs master run with --dead-timeout $DEAD_TIMEOUT (default 30s), heartbeats every 1s, and dead_on_refused (default): a server whose presence long poll to the master closed (its process died) or that missed a heartbeat, and whose port then refuses connections twice, is dead at once (about 0.1 s after kill -9; the figure below includes the polling: bench/healpoll.py, one process polling /api/v1/status every 20 ms until the death is seen, then every 50 ms, each poll timed when its answer arrives); MooseFS notices a killed chunkserver when its TCP connection drops. Restored bytes: du of the killed server's data directory, taken just before the kill. For MooseFS the declared-dead moment is when \`mfscli -SCS\` stops listing the server (polled every 0.1 s), which can trail the master's own detection, so its from-kill figures are the safer comparison. MooseFS polling (mfscli, one process per poll): every 0.1 s until the death is seen, then every 0.25 s (+ the time of the status calls). All servers share one disk, so a copy reads and writes the same device. The kill comes ${SETTLE}s after the writes, with the page cache dropped. Join: an empty fifth server is started after the return step; the figure is the time until it holds ${JOIN_SHARE} of the mean chunk-file count per server (ferrofs: the balancer, which runs only on a healthy cluster; MooseFS: its rebalancing)."
finish
