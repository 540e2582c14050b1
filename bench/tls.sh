#!/usr/bin/env bash
# bench/tls.sh: what mutual TLS on every link costs. bench/fio.sh's workload (sequential
# write of SIZE in 1 MiB blocks with fsync, cold sequential read, 4 KiB random reads, 4
# concurrent sequential writers of SIZE/4 each) on a local directory, ferrofs over plain
# HTTP and ferrofs with `--tls` on every process (a cluster CA and certificates made by
# `ferrofs ca`; client to master and to chunkservers, the chunkservers' write pipeline,
# heartbeats all over HTTPS), all on the same disk, with the ratio ferrofs-tls / ferrofs.
# Issue 14's target: within 15% (a ratio of at least 0.85 on the streaming rows).
#
# Knobs: those of bench/fio.sh (SIZE default 1G, RUNTIME 20; QUICK=1: 64M, 5 s).
# Run as root: bench/tls.sh   or   QUICK=1 bench/tls.sh
export TARGETS=${TARGETS:-local ferrofs ferrofs-tls}
export BENCH_NAME=tls
export FIO_TITLE=${FIO_TITLE:-TLS cost: streaming and random I/O with and without mutual TLS}
exec "$(dirname "$0")/fio.sh" "$@"
