#!/usr/bin/env bash
# bench/failover.sh: how long a ferrofs master group of 3 is unavailable when its leader
# is killed (-9). A mount (4 chunkservers) runs bench/failprobe.py, which creates new
# files (each fsynced, so the master group must commit it) and opens-and-reads an
# existing one back to back; each round kills the leader,
# records how long after the kill the first create and the first read through the
# mount completed, restarts the killed master and waits for it to rejoin. Reports the
# median, min and max over ROUNDS rounds.
#
# MooseFS is not measured: its master HA is in the paid edition only.
#
# Knobs: ROUNDS (default 5; QUICK=1: 3), SETTLE (seconds between rounds, default 3),
#        QUICK, BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/failover.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then : "${ROUNDS:=3}"; else : "${ROUNDS:=5}"; fi
: "${SETTLE:=3}"
REPORT_KNOBS="QUICK ROUNDS SETTLE"

require_root
need_cmd python3 curl
setup_work

# median/min/max of the numbers on stdin, "m lo hi"
stats() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "n/a n/a n/a"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'; }

# first "KIND T ok" line with T > KILL, minus KILL
first_after() {
    awk -v k="$2" -v kill="$3" '$1 == k && $3 == "ok" && $2 > kill { printf "%.3f\n", $2 - kill; exit }' "$1"
}

failover() {
    ferrofs_start --chunkservers 4 --masters 3 --dead-timeout 5s
    local out=$WORK/probe.log creates=() reads=() r leader kill c rd
    : >"$out"
    python3 "$BENCH_DIR/failprobe.py" "$FERRO_MNT" "$out" &
    local probe=$!
    defer stop_pid "$probe" KILL 5
    sleep "$SETTLE"
    for ((r = 1; r <= ROUNDS; r++)); do
        leader=$(ferrofs_leader_index) || die "no leader before round $r"
        kill=$(now)
        kill -9 "${FERRO_MASTER_PIDS[leader]}"
        wait_until 30 "a new leader" ferrofs_leader_url >/dev/null || die "no new leader in round $r"
        wait_until 30 "service back" bash -c "awk -v kill=$kill '\$3 == \"ok\" && \$2 > kill' '$out' | grep -q read" ||
            die "the mount did not recover in round $r"
        c=$(first_after "$out" create "$kill")
        rd=$(first_after "$out" read "$kill")
        log "round $r: killed master $((leader + 1)); first create after ${c:-?} s, first read after ${rd:-?} s"
        creates+=("${c:-30}")
        reads+=("${rd:-30}")
        ferrofs_start_master "$leader"
        wait_until 30 "master $((leader + 1)) back" curl -sf -o /dev/null "http://127.0.0.1:${FERRO_MASTER_PORTS[leader]}/health" ||
            die "master $((leader + 1)) did not come back"
        sleep "$SETTLE"
    done
    read -r m lo hi < <(printf '%s\n' "${creates[@]}" | stats)
    result create_median "$m"
    result create_min "$lo"
    result create_max "$hi"
    read -r m lo hi < <(printf '%s\n' "${reads[@]}" | stats)
    result read_median "$m"
    result read_min "$lo"
    result read_max "$hi"
    result errors "$(grep -c ' err ' "$out" || true)"
}

run_one ferrofs failover

report "Failover: kill -9 of the master leader (group of 3), $ROUNDS rounds" --targets ferrofs --ratios "" \
    --row "create_median=first create+fsync through the mount after the kill, median (s)" \
    --row "create_min=... fastest (s)" \
    --row "create_max=... slowest (s)" \
    --row "read_median=first open+read through the mount after the kill (may be served from the mount's cache), median (s)" \
    --row "read_min=... fastest (s)" \
    --row "read_max=... slowest (s)" \
    --row "errors=calls that failed (a FUSE call blocks through the election; must be 0)" \
    --note "Default election settings (raft_heartbeat 100ms, election_timeout 400ms). The killed master is restarted between rounds, so every round kills a member that has caught up. MooseFS keeps master HA to its paid edition."
finish
