#!/usr/bin/env python3
"""Print a markdown table from a benchmark results TSV (target, key, value per line).

    report.py results.tsv --row seq_write_mibs="Sequential write (MiB/s)" ... \
        [--targets local,ferrofs,moosefs] [--ratios ferrofs/local,ferrofs/moosefs] \
        [--note "text"]...

Cells of a target that failed read FAILED; of a target not run, a dash. Ratios are the
plain quotient of the two values (so for times, > 1 means slower).
"""
import argparse
import sys


def fmt(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if str(v).strip().lstrip("-").isdigit():
        return f"{int(v):,}"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--row", action="append", default=[], help="KEY=LABEL")
    ap.add_argument("--targets", default="local,ferrofs,moosefs")
    ap.add_argument("--ratios", default="ferrofs/local,ferrofs/moosefs")
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args()

    vals, failed = {}, {}
    with open(a.tsv) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            t, k, v = line.split("\t", 2)
            if k == "_failed":
                failed[t] = v
            else:
                vals[(t, k)] = v
    targets = [t for t in a.targets.split(",") if t]
    ratios = [r.split("/") for r in a.ratios.split(",") if r]

    def cell(t, k):
        if (t, k) in vals:
            return fmt(vals[(t, k)])
        if t in failed:
            return "FAILED"
        return "–"

    def ratio(n, d, k):
        try:
            x, y = float(vals[(n, k)]), float(vals[(d, k)])
            if not y:
                return "–"
            r = x / y
            return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"
        except (KeyError, ValueError):
            return "–"

    head = ["workload"] + targets + [f"{n}/{d}" for n, d in ratios]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in a.row:
        k, _, label = r.partition("=")
        row = [label or k] + [cell(t, k) for t in targets] + [ratio(n, d, k) for n, d in ratios]
        print("| " + " | ".join(row) + " |")
    for t, why in failed.items():
        print(f"\n{t}: FAILED ({why}); see the script's output above for the error.")
    for n in a.note:
        print(f"\n{n}")


if __name__ == "__main__":
    sys.exit(main())
