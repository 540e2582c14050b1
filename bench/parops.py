#!/usr/bin/env python3
"""Concurrent metadata operations for bench/parallel.sh, one phase per run:

    parops.py create|stat|unlink shared|private DIR PROCS N

Starts PROCS worker processes (this file again, `--worker`), each doing N operations:
create (open O_CREAT|O_EXCL|O_WRONLY, close: N empty files), stat (os.stat each, size
checked) or unlink. Layout `shared`: every worker's files are in DIR itself (names
p<worker>-f<i>); `private`: worker W's files are in DIR/d<W> (made by create, before the
start; removed by unlink after its last file, untimed).

The workers start at once: each one sets itself up (imports, directory), says it is
ready (a file in a sync directory on local disk, outside the target) and polls for a
start file; when all are ready this process writes the start file with the start time
(CLOCK_MONOTONIC, shared by every process). Aggregate rate = total ops / (last worker's
finish - that start).

Prints "<phase> <layout> <procs> <ops> <seconds> <ops/s> <slowest worker s> <fastest worker s>".
"""
import os
import subprocess
import sys
import tempfile
import time

POLL_S = 0.0005
READY_TIMEOUT_S = 120


def names(d, layout, w, n):
    if layout == "shared":
        return [os.path.join(d, f"p{w}-f{i:07d}") for i in range(n)]
    sub = os.path.join(d, f"d{w}")
    return [os.path.join(sub, f"f{i:07d}") for i in range(n)]


def worker(phase, layout, d, w, n, sync):
    paths = names(d, layout, w, n)
    if phase == "create" and layout == "private":
        os.makedirs(os.path.join(d, f"d{w}"), exist_ok=True)
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
    open(os.path.join(sync, f"ready.{w}"), "w").close()
    start_file = os.path.join(sync, "start")
    while not os.path.exists(start_file):
        time.sleep(POLL_S)
    seen = time.monotonic()
    if phase == "create":
        for p in paths:
            os.close(os.open(p, flags, 0o644))
    elif phase == "stat":
        for p in paths:
            st = os.stat(p)
            if st.st_size != 0:
                sys.exit(f"{p}: size {st.st_size}, expected 0")
    elif phase == "unlink":
        for p in paths:
            os.unlink(p)
    else:
        sys.exit(f"unknown phase {phase}")
    end = time.monotonic()
    if phase == "unlink" and layout == "private":
        os.rmdir(os.path.join(d, f"d{w}"))
    print(f"{w} {n} {seen:.6f} {end:.6f}")


def main():
    if sys.argv[1] == "--worker":
        phase, layout, d, w, n, sync = sys.argv[2:8]
        worker(phase, layout, d, int(w), int(n), sync)
        return
    phase, layout, d, procs, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    if layout not in ("shared", "private"):
        sys.exit(f"unknown layout {layout} (shared, private)")
    if phase == "create":
        os.makedirs(d, exist_ok=True)
    # The sync directory is on local disk ($TMPDIR), never on the target.
    sync = tempfile.mkdtemp(prefix="parops.")
    try:
        ws = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", phase, layout, d, str(w), str(n), sync],
                stdout=subprocess.PIPE, text=True)
            for w in range(procs)
        ]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while sum(os.path.exists(os.path.join(sync, f"ready.{w}")) for w in range(procs)) < procs:
            if any(p.poll() is not None for p in ws):
                break  # a worker died before the start: reported below
            if time.monotonic() > deadline:
                sys.exit(f"workers not ready after {READY_TIMEOUT_S}s")
            time.sleep(0.005)
        tmp = os.path.join(sync, "start.tmp")
        with open(tmp, "w") as f:
            t0 = time.monotonic()
            f.write(f"{t0:.6f}\n")
        os.rename(tmp, os.path.join(sync, "start"))
        outs = [p.communicate()[0] for p in ws]
        bad = [w for w, p in enumerate(ws) if p.returncode != 0]
        if bad:
            sys.exit(f"{phase} {layout}: worker(s) {bad} failed")
    finally:
        for f in os.listdir(sync):
            os.unlink(os.path.join(sync, f))
        os.rmdir(sync)
    ops, ends = 0, []
    for out in outs:
        _w, k, _seen, end = out.split()
        ops += int(k)
        ends.append(float(end))
    dt = max(ends) - t0
    print(f"{phase} {layout} {procs} {ops} {dt:.6f} {ops / dt:.3f} {max(ends) - t0:.3f} {min(ends) - t0:.3f}")


if __name__ == "__main__":
    main()
