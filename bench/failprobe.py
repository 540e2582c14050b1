#!/usr/bin/env python3
"""bench/failprobe.py MNT OUT: probe a mount until killed, for bench/failover.sh.

Alternates a create (O_CREAT|O_EXCL new file, fsynced, closed) and a read (open,
read, close of one existing file) as fast as they complete,
and appends "create|read <unix time when it completed> ok|err" lines to OUT. A call
that spans a master outage blocks and completes when the group serves again, so the
first line after a kill with a later time marks when service came back.

The create is fsynced because the mount answers a create in a directory it holds whole
at once and sends it later (deferred creates): without the fsync the probe timed the
mount, not the master group. The fsync waits for the create and the file's size to be
committed by the group. The read may be served by the mount's cache, which follows the
change feed, and so can complete during the election.
"""
import os
import sys
import time

mnt, out = sys.argv[1], sys.argv[2]
d = os.path.join(mnt, "failprobe")
os.makedirs(d, exist_ok=True)
probe = os.path.join(d, "read-me")
with open(probe, "wb") as f:
    f.write(b"x" * 4096)
n = 0
with open(out, "a", buffering=1) as log:
    while True:
        n += 1
        try:
            fd = os.open(os.path.join(d, f"c{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            log.write(f"create {time.time():.6f} ok\n")
        except OSError as e:
            log.write(f"create {time.time():.6f} err {e.errno}\n")
        try:
            with open(probe, "rb") as f:
                f.read()
            log.write(f"read {time.time():.6f} ok\n")
        except OSError as e:
            log.write(f"read {time.time():.6f} err {e.errno}\n")
