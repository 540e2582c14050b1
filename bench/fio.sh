#!/usr/bin/env bash
# bench/fio.sh: streaming and random I/O through the mount, with fio, on a local
# directory, ferrofs (3 chunkservers, replication 3, 64 MiB chunks) and MooseFS (3
# chunkservers, goal 3), all on the same disk.
#
#   1. sequential write of SIZE in 1 MiB blocks, fsync at the end (end_fsync=1);
#   2. sequential read of that file in 1 MiB blocks, page cache dropped first (cold);
#   3. 4 KiB random reads of that file for RUNTIME seconds, page cache dropped first;
#   4. (that file deleted) 4 concurrent sequential writers: 4 processes (numjobs=4,
#      group_reporting) each writing a file of its own of SIZE/4 in 1 MiB blocks with
#      fsync at the end; aggregate MiB/s (SIZE / the slowest job's time).
#
# All jobs: ioengine=psync, buffered I/O, fallocate=none; one job, except 4.
#
# Knobs: SIZE (default 1G; QUICK=1: 64M), RUNTIME (seconds, default 20; QUICK=1: 5),
#        TARGETS (default "local ferrofs moosefs"; ferrofs-tls: mutual TLS on every
#        link, see bench/tls.sh), QUICK, BENCH_TMP, FERROFS_BIN, KEEP.
# Run as root: bench/fio.sh   or   QUICK=1 bench/fio.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${SIZE:=64M}" "${RUNTIME:=5}"
else
    : "${SIZE:=1G}" "${RUNTIME:=20}"
fi
REPORT_KNOBS="QUICK SIZE RUNTIME TARGETS"

require_root
need_cmd fio python3 curl
setup_work

# fio_json FILE: the figures of the single job in fio's JSON output.
fio_field() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
job = doc["jobs"][0]
what = sys.argv[2]
if what == "write_mibs":
    print(job["write"]["bw_bytes"] / 2**20)
elif what == "read_mibs":
    print(job["read"]["bw_bytes"] / 2**20)
elif what == "read_iops":
    print(job["read"]["iops"])
elif what == "read_p99_us":
    print(job["read"]["clat_ns"]["percentile"]["99.000000"] / 1000)
elif what == "read_mean_us":
    print(job["read"]["clat_ns"]["mean"] / 1000)
EOF
}

# fio_run NAME [fio args]: one job (numjobs=1 unless the args say otherwise).
fio_run() {
    local name=$1
    shift
    local out=$WORK/$TARGET-$name.json
    fio --name="$name" --ioengine=psync --fallocate=none --numjobs=1 \
        --output-format=json --output="$out" "$@" >/dev/null ||
        { cat "$out" >&2 2>/dev/null; die "fio $name failed on $TARGET"; }
    echo "$out"
}

workload() {
    local dir=$1 f out
    f=$dir/fio.dat

    log "$TARGET: sequential write of $SIZE (bs=1M, end_fsync=1)"
    out=$(fio_run seqwrite --filename="$f" --rw=write --bs=1M --size="$SIZE" --end_fsync=1)
    result seq_write_mibs "$(fio_field "$out" write_mibs)"

    local want got
    want=$(to_bytes "$SIZE")
    got=$(stat -c %s "$f")
    [ "$got" = "$want" ] || die "$TARGET: fio.dat is $got bytes after the write, expected $want"

    log "$TARGET: cold sequential read (bs=1M)"
    drop_caches
    out=$(fio_run seqread --filename="$f" --rw=read --bs=1M --size="$SIZE")
    result seq_read_mibs "$(fio_field "$out" read_mibs)"

    log "$TARGET: 4 KiB random read for ${RUNTIME}s (cold start)"
    drop_caches
    out=$(fio_run randread --filename="$f" --rw=randread --bs=4k --size="$SIZE" \
        --time_based --runtime="$RUNTIME" --randrepeat=1)
    result rand_read_iops "$(fio_field "$out" read_iops)"
    result rand_read_mean_us "$(fio_field "$out" read_mean_us)"
    result rand_read_p99_us "$(fio_field "$out" read_p99_us)"

    rm -f "$f"

    # 4 writers at once, a file each (fio names them par4write.N.0 in $dir/par4).
    local per
    per=$(($(to_bytes "$SIZE") / 4 / 1048576))
    [ "$per" -ge 1 ] || die "SIZE=$SIZE is too small for 4 writers of 1 MiB blocks"
    mkdir -p "$dir/par4"
    log "$TARGET: 4 concurrent sequential writers of ${per} MiB each (bs=1M, end_fsync=1)"
    out=$(fio_run par4write --directory="$dir/par4" --numjobs=4 --group_reporting \
        --rw=write --bs=1M --size="${per}M" --end_fsync=1)
    result par4_write_mibs "$(fio_field "$out" write_mibs)"
    for f in "$dir"/par4/par4write.{0,1,2,3}.0; do
        got=$(stat -c %s "$f") || die "$TARGET: $f is missing after the 4 writers"
        [ "$got" = $((per * 1048576)) ] || die "$TARGET: $f is $got bytes after the write, expected $((per * 1048576))"
    done
    rm -rf "$dir/par4"
}

run_targets workload

# The table's columns: the targets run; with ferrofs-tls (bench/tls.sh), its cost beside
# plain ferrofs.
COLS=$(echo "$TARGETS" | tr ' ' ',')
RATIOS=ferrofs/local,ferrofs/moosefs
case " $TARGETS " in *" ferrofs-tls "*) RATIOS=ferrofs-tls/ferrofs,ferrofs/local ;; esac
report "${FIO_TITLE:-fio: streaming and random I/O ($SIZE file, ${RUNTIME}s random reads)}" \
    --targets "$COLS" --ratios "$RATIOS" \
    --row "seq_write_mibs=Sequential write, 1 MiB blocks + fsync (MiB/s)" \
    --row "seq_read_mibs=Sequential read, cold (MiB/s)" \
    --row "rand_read_iops=4 KiB random read (IOPS)" \
    --row "rand_read_mean_us=4 KiB random read, mean latency (µs)" \
    --row "rand_read_p99_us=4 KiB random read, p99 latency (µs)" \
    --row "par4_write_mibs=4 concurrent sequential writers, 1 MiB + fsync (MiB/s, aggregate)" \
    --note "fio $(fio --version), ioengine=psync, buffered I/O, one job except the 4 writers (numjobs=4, a file of SIZE/4 each, group_reporting). The page cache is dropped before each read phase; the random-read phase starts cold and warms up over its run (the file is smaller than RAM). Higher is better except for latencies."
finish
