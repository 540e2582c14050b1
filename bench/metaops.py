#!/usr/bin/env python3
"""Metadata operations for bench/metadata.sh, one phase per run:

    metaops.py create|stat|readdir|unlink DIR N

create: N empty files DIR/f0000000.. (open O_CREAT|O_EXCL|O_WRONLY, close);
stat: os.stat each; readdir: list DIR (os.scandir, names and types, no stat) and check
that the N files are there; unlink: os.unlink each.
Prints "<phase> <ops> <seconds> <ops/s>".
"""
import os
import sys
import time


def main():
    phase, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = [os.path.join(d, f"f{i:07d}") for i in range(n)]
    t0 = time.perf_counter()
    if phase == "create":
        os.makedirs(d, exist_ok=True)
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
        for p in names:
            os.close(os.open(p, flags, 0o644))
        ops = n
    elif phase == "stat":
        for p in names:
            st = os.stat(p)
            if st.st_size != 0:
                sys.exit(f"{p}: size {st.st_size}, expected 0")
        ops = n
    elif phase == "readdir":
        seen = 0
        with os.scandir(d) as it:
            for e in it:
                if e.name.startswith("f"):
                    seen += 1
        if seen != n:
            sys.exit(f"readdir saw {seen} files in {d}, expected {n}")
        ops = seen
    elif phase == "unlink":
        for p in names:
            os.unlink(p)
        ops = n
    else:
        sys.exit(f"unknown phase {phase}")
    dt = time.perf_counter() - t0
    print(f"{phase} {ops} {dt:.6f} {ops / dt:.3f}")


if __name__ == "__main__":
    main()
