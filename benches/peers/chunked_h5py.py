#!/usr/bin/env python3
"""h5py side of the chunked benchmark: time writing a float64 array of random values (one
chunked dataset, no filter), reading it whole, and many short random reads; print JSON.

    chunked_h5py.py PATH.h5 [--elements N] [--chunk N] [--reads N] [--read-len N]

PATH must not exist; it is left in place for inspection. `larder bench chunked PATH.h5` with
the same arguments times larder on the same operations (docs/cli.md).
"""

import argparse
import json
import os
import sys
import time

import h5py
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--elements", type=int, default=16 << 20)
    p.add_argument("--chunk", type=int, default=1 << 20)
    p.add_argument("--reads", type=int, default=1000)
    p.add_argument("--read-len", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    if os.path.exists(a.path):
        sys.exit(f"{a.path} exists; pick a new path")
    rng = np.random.default_rng(a.seed)
    data = rng.random(a.elements)

    t = time.perf_counter()
    with h5py.File(a.path, "w") as f:
        d = f.create_dataset("data", shape=(a.elements,), chunks=(a.chunk,), dtype="f8")
        d[:] = data
    write_s = time.perf_counter() - t
    del data

    with h5py.File(a.path, "r") as f:
        d = f["data"]
        t = time.perf_counter()
        whole = d[:]
        read_s = time.perf_counter() - t
        del whole

        n = min(a.read_len, a.elements)
        starts = rng.integers(0, a.elements - n + 1, size=a.reads)
        t = time.perf_counter()
        checksum = 0.0
        for s in starts:
            checksum += float(d[s : s + n].sum())
        random_s = time.perf_counter() - t

    print(json.dumps({
        "tool": "h5py", "version": h5py.__version__, "format": "hdf5",
        "elements": a.elements, "chunk": a.chunk, "codec": "none",
        "bytes": os.path.getsize(a.path),
        "write_s": write_s, "read_s": read_s, "random_reads_s": random_s,
        "reads": a.reads, "read_len": n, "checksum": checksum,
    }))


if __name__ == "__main__":
    main()
