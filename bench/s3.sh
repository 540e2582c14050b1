#!/usr/bin/env bash
# bench/s3.sh: the S3 gateway beside the mount, on one ferrofs cluster (3 chunkservers,
# replication 3, 64 MiB chunks), and the sales-per-product job through the object_store
# backend.
#
#   1. PUT of a SIZE file with aws-cli (`aws s3 cp`, multipart in 8 MiB parts, its default
#      10 requests in flight), then GET of it back to a local file (page cache dropped
#      first), both through `ferrofs gateway`;
#   2. the same file written through the mount (dd bs=1M conv=fsync) and read back cold;
#   3. `examples/sales_per_product` with ROWS rows over 1,000 products (CSV and Parquet
#      written through object_store, totalled by DataFusion SQL), its rows/s.
#
# Knobs: SIZE (default 1G; QUICK=1: 128M), ROWS (default 10000000; QUICK=1: 1000000),
#        BENCH_TMP, FERROFS_BIN, KEEP. Needs aws-cli (scripts/install-deps.sh).
# Run as root: bench/s3.sh   or   QUICK=1 bench/s3.sh
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
    : "${SIZE:=128M}" "${ROWS:=1000000}"
else
    : "${SIZE:=1G}" "${ROWS:=10000000}"
fi
REPORT_KNOBS="QUICK SIZE ROWS"
: "${SALES_BIN:=$REPO_DIR/target/release/examples/sales_per_product}"

require_root
need_cmd aws python3 curl dd
setup_work

mibs() { calc "$1 / 1048576 / $2"; }

gateway_start() {
    S3_PORT=$(free_port)
    GW_KEY=bench-key
    GW_SECRET=bench-secret-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
    FERROFS_S3_ACCESS_KEY=$GW_KEY FERROFS_S3_SECRET_KEY=$GW_SECRET \
        "$FERROFS_BIN" gateway --master "$FERRO_URL" --s3-listen "127.0.0.1:$S3_PORT" \
        --webhdfs-listen "" >"$FERRO_DIR/gateway.log" 2>&1 &
    GW_PID=$!
    defer "stop_pid $GW_PID TERM 10"
    wait_until 30 "the S3 gateway" curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" || die "gateway did not start (log: $FERRO_DIR/gateway.log)"
    cat >"$WORK/aws.config" <<CFG
[default]
region = us-east-1
s3 =
  addressing_style = path
CFG
}

awss3() {
    AWS_CONFIG_FILE=$WORK/aws.config AWS_ACCESS_KEY_ID=$GW_KEY AWS_SECRET_ACCESS_KEY=$GW_SECRET \
        AWS_CA_BUNDLE= aws --endpoint-url "http://127.0.0.1:$S3_PORT" "$@"
}

workload() {
    local bytes t src
    bytes=$(to_bytes "$SIZE")
    ferrofs_start --chunkservers 3
    gateway_start
    src=$WORK/src.bin
    log "making a $SIZE source file"
    head -c "$bytes" /dev/urandom >"$src"

    TARGET=s3
    awss3 s3 mb s3://bench >/dev/null
    drop_caches
    t=$(now)
    awss3 s3 cp --only-show-errors "$src" s3://bench/big.bin
    result put_mibs "$(mibs "$bytes" "$(since "$t")")"
    drop_caches
    t=$(now)
    awss3 s3 cp --only-show-errors s3://bench/big.bin "$WORK/back.bin"
    result get_mibs "$(mibs "$bytes" "$(since "$t")")"
    cmp "$src" "$WORK/back.bin" || die "the object read back differs"
    rm -f "$WORK/back.bin"
    grep -q "completing by rename" "$FERRO_DIR/gateway.log" && result zero_copy yes || result zero_copy no

    TARGET=mount
    drop_caches
    t=$(now)
    dd if="$src" of="$FERRO_MNT/big.bin" bs=1M conv=fsync status=none
    result put_mibs "$(mibs "$bytes" "$(since "$t")")"
    drop_caches
    t=$(now)
    dd if="$FERRO_MNT/big.bin" of=/dev/null bs=1M status=none
    result get_mibs "$(mibs "$bytes" "$(since "$t")")"
    rm -f "$src"

    TARGET=sales
    if [ ! -x "$SALES_BIN" ]; then
        log "building the example (release)"
        (cd "$REPO_DIR" && cargo build --release --example sales_per_product) >&2
    fi
    local out
    out=$(FERROFS_MASTER=$FERRO_URL "$SALES_BIN" --rows "$ROWS" | tee /dev/stderr)
    result write_rows_s "$(echo "$out" | awk '/generated and wrote/ { print $(NF-1) }')"
    result csv_rows_s "$(echo "$out" | awk '/SQL over CSV/ { print $(NF-3) }')"
    result parquet_rows_s "$(echo "$out" | awk '/SQL over Parquet/ { print $(NF-1) }')"
}

TARGET=ferrofs
run_one ferrofs workload
report "S3 gateway and sales per product" --targets s3,mount,sales --ratios s3/mount \
    --row put_mibs="write SIZE file (MiB/s): aws s3 cp / dd conv=fsync" \
    --row get_mibs="read it back, cold (MiB/s)" \
    --row zero_copy="multipart completed without copying" \
    --row write_rows_s="sales_per_product: generate + write CSV and Parquet (rows/s)" \
    --row csv_rows_s="sales_per_product: SQL over CSV (rows/s)" \
    --row parquet_rows_s="sales_per_product: SQL over Parquet (rows/s)" \
    --note "One cluster on this machine: 3 chunkservers, replication 3, 64 MiB chunks; the gateway and the mount are its clients. aws-cli uses 8 MiB parts, 10 in flight."
finish
