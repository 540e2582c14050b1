#!/usr/bin/env bash
# bench/loss.sh: ferrofs across network namespaces (scripts/netns-cluster.sh: 3 masters,
# 4 chunkservers in racks r1 and r2, each node a "host" of its own on a bridge), on a
# clean network and with LOSS% of the packets arriving at every master and chunkserver
# dropped at random (nftables `numgen random mod 100 < LOSS drop`; this kernel has no
# netem, so added latency is out of reach). For each network:
#
#   write   `ferrofs put` of a SIZE file of random bytes from the host (MiB/s);
#   read    `ferrofs get` of it back to a file, checked by SHA-256 (MiB/s);
#   heal    kill -9 of chunkserver c1, then the time until the master reports no chunk
#           under-replicated or missing (s from the kill), and the data it held (MiB/s).
#
# Knobs: SIZE (default 1G; QUICK=1: 256M), LOSS (percent, default 2), TIMEOUT (600 s per
#        wait), QUICK, BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/loss.sh   or   QUICK=1 bench/loss.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then : "${SIZE:=256M}"; else : "${SIZE:=1G}"; fi
: "${LOSS:=2}" "${TIMEOUT:=600}"
REPORT_KNOBS="QUICK SIZE LOSS TIMEOUT"
NETNS=$REPO_DIR/scripts/netns-cluster.sh

require_root
need_cmd python3 ip nft sha256sum
check_ferrofs_bin
setup_work

DATA=$WORK/data.bin
head -c "$(to_bytes "$SIZE")" /dev/urandom >"$DATA"
WANT=$(sha256sum "$DATA" | cut -d' ' -f1)
export FERROFS_NETNS_DIR=$WORK/netns FERROFS_BIN
URLS=""

# Read the file back into $WORK/back.bin; fail on an error or on different bytes.
read_back() { # WHEN
    "$FERROFS_BIN" get /data.bin "$WORK/back.bin" --master "$URLS" 2>"$WORK/get.err" ||
        die "ferrofs get failed $1: $(tail -3 "$WORK/get.err")"
    [ "$(sha256sum "$WORK/back.bin" | cut -d' ' -f1)" = "$WANT" ] || die "the file read back $1 differs"
    rm -f "$WORK/back.bin"
}

status_json() { "$FERROFS_BIN" admin status --json --master "$URLS"; }

healed() { # KILLED_ID
    status_json | python3 -c '
import json, sys
s = json.load(sys.stdin)
dead = any(c["id"] == sys.argv[1] and not c["alive"] for c in s["chunkservers"])
ch = s["chunks"]
sys.exit(0 if dead and ch["under_replicated"] == 0 and ch["missing"] == 0 else 1)' "$1"
}

cluster_down() { "$NETNS" down >/dev/null 2>&1 || true; }

one_network() { # LOSS_PERCENT
    local loss=$1 t bytes node
    cluster_down
    defer cluster_down
    "$NETNS" up >"$WORK/up-$loss.log" 2>&1 || { cat "$WORK/up-$loss.log" >&2; die "netns cluster did not start"; }
    URLS=$(awk '/^masters:/ { print $2 }' "$WORK/up-$loss.log")
    if [ "$loss" != 0 ]; then
        for node in m1 m2 m3 c1 c2 c3 c4; do "$NETNS" loss "$node" "$loss"; done
        log "dropping $loss% of the packets arriving at every master and chunkserver"
    fi
    t=$(now)
    "$FERROFS_BIN" put "$DATA" /data.bin --master "$URLS" || die "put failed"
    result write_mibs "$(calc "$(to_bytes "$SIZE") / 1048576 / $(since "$t")")"
    drop_caches
    t=$(now)
    read_back "after the write"
    result read_mibs "$(calc "$(to_bytes "$SIZE") / 1048576 / $(since "$t")")"
    local pid id
    pid=$(pgrep -f -- "chunkserver .*--data $FERROFS_NETNS_DIR/c1( |$)" | head -1)
    id=$(cat "$FERROFS_NETNS_DIR/c1/cs_id")
    bytes=$(du -sb "$FERROFS_NETNS_DIR/c1" | cut -f1)
    drop_caches
    t=$(now)
    kill -9 "$pid"
    wait_until "$TIMEOUT" "every chunk back at goal" healed "$id" || die "no heal within ${TIMEOUT}s"
    local s
    s=$(since "$t")
    result heal_s "$s"
    result heal_mibs "$(calc "$bytes / 1048576 / $s")"
    read_back "after the heal"
    cluster_down
}

clean_network() { one_network 0; }
lossy_network() { one_network "$LOSS"; }
run_one clean clean_network
run_one loss lossy_network

report "Across namespaces: a clean network beside $LOSS% packet loss ($SIZE)" \
    --targets clean,loss --ratios loss/clean \
    --row "write_mibs=ferrofs put of one file, from the host (MiB/s)" \
    --row "read_mibs=ferrofs get of it to a file, checked by SHA-256 (MiB/s)" \
    --row "heal_s=kill -9 of a chunkserver until every chunk is back at goal (s)" \
    --row "heal_mibs=... the killed server's data restored per second (MiB/s)" \
    --note "scripts/netns-cluster.sh: 3 masters, 4 chunkservers (racks r1: c1 c2, r2: c3 c4), replication 3, 64 MiB chunks, each node in a network namespace on one bridge, all on one disk. Loss is dropped packets arriving at every master and chunkserver (the host, which writes and reads, is not lossy itself). The killed server's port answers RST, so it is declared dead at once."
finish
