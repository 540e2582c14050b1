#!/usr/bin/env python3
"""Deterministic tree of small files for bench/smallfiles.sh.

    mktree.py DIR N [SEED]

N files of 1 to 64 KiB (uniform) of pseudo-random bytes, 100 files a directory, 10
directories a parent: DIR/dNN/dNN/fNNNNNNN. The same N and SEED give the same tree.
Prints "<files> <bytes> <dirs>".
"""
import os
import random
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20240601
    rng = random.Random(seed)
    total = 0
    dirs = set()
    for i in range(n):
        leaf = i // 100
        d = os.path.join(root, f"d{leaf // 10:03d}", f"d{leaf % 10:02d}")
        if d not in dirs:
            os.makedirs(d, exist_ok=True)
            dirs.add(d)
        size = rng.randint(1024, 64 * 1024)
        with open(os.path.join(d, f"f{i:07d}"), "wb") as f:
            f.write(rng.randbytes(size))
        total += size
    print(n, total, len(dirs))


if __name__ == "__main__":
    main()
