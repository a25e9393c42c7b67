#!/usr/bin/env python3
"""numpy's way to reduce a .npy that may not fit in memory: `np.load(path, mmap_mode="r")`.

    python stats_numpy.py PATH [--ops sum,min,max,mean,std,histogram] [--bins N] [--repeat R]

Each operation runs on a freshly mapped array (as a new process would see it) and is timed on
its own; with --repeat it runs R times and the fastest time is kept (warm page cache). Prints
one JSON line with the keys of `larder stats --json` that were computed (count, sum, mean, std,
min, max, nan_count; histogram counts over --bins equal bins between min and max) and, under
"seconds", the time of each operation. numpy's plain reductions do not skip NaN; the
benchmark inputs hold none.
"""

import argparse
import json
import math
import time

import numpy as np


def number(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--ops", default="sum,min,max,mean,std,histogram")
    ap.add_argument("--bins", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    ops = [o for o in args.ops.split(",") if o]
    out, seconds = {}, {}
    lo_hi = None
    for op in ops:
        best = math.inf
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            a = np.load(args.path, mmap_mode="r")
            if op == "histogram":
                if lo_hi is None:
                    lo_hi = (float(a.min()), float(a.max()))
                    t = time.perf_counter()
                counts, _ = np.histogram(a, bins=args.bins, range=lo_hi)
                value = [int(c) for c in counts]
            elif op in ("sum", "min", "max", "mean", "std"):
                value = number(getattr(a, op)())
            else:
                raise SystemExit(f"unknown op {op!r}")
            best = min(best, time.perf_counter() - t)
            del a
        seconds[op] = best
        if op == "histogram":
            out["histogram"] = {"counts": value}
        else:
            out[op] = value
    a = np.load(args.path, mmap_mode="r")
    out["count"] = int(a.size)
    out["dtype"] = a.dtype.name
    out["seconds"] = seconds
    print(json.dumps(out))


if __name__ == "__main__":
    main()
