#!/usr/bin/env python3
"""zarr-python side of the chunked benchmark: time writing a float64 array of random values
(Zarr v3, zstd level 3, 1-d chunks), reading it whole, and many short random reads; print JSON.

    chunked_zarr.py PATH.zarr [--elements N] [--chunk N] [--reads N] [--read-len N]

PATH must not exist; it is left in place for inspection. `larder bench chunked PATH.zarr` with
the same arguments times larder on the same operations (docs/cli.md).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import zarr
from zarr.codecs import ZstdCodec


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
    z = zarr.create_array(
        store=a.path,
        shape=(a.elements,),
        chunks=(a.chunk,),
        dtype="f8",
        compressors=[ZstdCodec(level=3)],
        zarr_format=3,
    )
    z[:] = data
    write_s = time.perf_counter() - t
    del data

    z = zarr.open_array(a.path, mode="r")
    t = time.perf_counter()
    whole = z[:]
    read_s = time.perf_counter() - t
    del whole

    n = min(a.read_len, a.elements)
    starts = rng.integers(0, a.elements - n + 1, size=a.reads)
    t = time.perf_counter()
    checksum = 0.0
    for s in starts:
        checksum += float(z[s : s + n].sum())
    random_s = time.perf_counter() - t

    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(a.path) for f in fs)
    print(json.dumps({
        "tool": "zarr-python", "version": zarr.__version__, "format": "zarr",
        "elements": a.elements, "chunk": a.chunk, "codec": "zstd:3", "bytes": size,
        "write_s": write_s, "read_s": read_s, "random_reads_s": random_s,
        "reads": a.reads, "read_len": n, "checksum": checksum,
    }))


if __name__ == "__main__":
    main()
