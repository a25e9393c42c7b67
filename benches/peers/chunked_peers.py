#!/usr/bin/env python3
"""The peers of the chunked-array scenario, on arrays that already exist (issue 5).

    chunked_peers.py zarr|h5py|dask read PATH
    chunked_peers.py zarr|h5py random PATH --offsets OFFS.npy --len L
    chunked_peers.py zarr|h5py write SRC.npy DST --chunks N --codec zstd|none

PATH is a Zarr array directory, or `FILE.h5:/dataset` (`FILE.h5` alone for a file with one
dataset). Each tool's idiomatic call:

- read: zarr-python `zarr.open_array(PATH)[:]`, h5py `dataset[()]`, then `.sum()`; dask
  `dask.array.from_zarr(PATH).sum()` with the threaded scheduler and `LARDER_BENCH_THREADS`
  workers (out of core). Prints `{"count", "sum", "seconds"}`.
- random: for each start `s` in OFFS.npy (int64), `array[s:s + L].sum()`, added up. Prints
  `{"reads", "elements", "sum", "seconds"}`.
- write: `np.load(SRC, mmap_mode="r")` assigned whole to a new 1-d array with chunks of N
  elements (zarr-python: Zarr v3, `ZstdCodec()` or no compressor; h5py: dataset `/data`,
  chunked, no filter). Prints `{"elements", "seconds"}`.

`seconds` times the operation alone (not the imports or the opening); the harness times the
whole process as well. (`chunked_zarr.py` and `chunked_h5py.py` beside this file time the same
operations on an array they write themselves, for use with `larder bench chunked`.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def h5_target(path: str):
    import h5py

    file, _, name = path.partition(":")
    f = h5py.File(file, "r")
    if not name:
        found = []
        f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
        if len(found) != 1:
            sys.exit(f"{file}: name the dataset (FILE.h5:/name); found {found}")
        name = found[0]
    return f, f[name]


def open_array(tool: str, path: str):
    if tool == "zarr":
        import zarr

        return None, zarr.open_array(path, mode="r")
    return h5_target(path)


def read(tool: str, path: str) -> dict:
    if tool == "dask":
        import dask
        import dask.array as da

        arr = da.from_zarr(path)
        workers = int(os.environ.get("LARDER_BENCH_THREADS", os.cpu_count() or 1))
        t = time.perf_counter()
        with dask.config.set(scheduler="threads", num_workers=workers):
            total = float(arr.sum().compute())
        return {"count": int(arr.size), "sum": total, "seconds": time.perf_counter() - t}
    f, arr = open_array(tool, path)
    t = time.perf_counter()
    data = arr[()] if tool == "h5py" else arr[:]
    total = float(data.sum())
    seconds = time.perf_counter() - t
    if f is not None:
        f.close()
    return {"count": int(data.size), "sum": total, "seconds": seconds}


def random_reads(tool: str, path: str, offsets: str, length: int) -> dict:
    starts = np.load(offsets)
    f, arr = open_array(tool, path)
    t = time.perf_counter()
    total = 0.0
    for s in starts.tolist():
        total += float(arr[s:s + length].sum())
    seconds = time.perf_counter() - t
    if f is not None:
        f.close()
    return {"reads": len(starts), "elements": len(starts) * length, "sum": total,
            "seconds": seconds}


def write(tool: str, src: str, dst: str, chunks: int, codec: str) -> dict:
    a = np.load(src, mmap_mode="r")
    if a.ndim != 1:
        sys.exit(f"{src}: expected a 1-d array, found shape {a.shape}")
    chunk = min(chunks, max(1, a.shape[0]))
    t = time.perf_counter()
    if tool == "zarr":
        import zarr
        from zarr.codecs import ZstdCodec

        z = zarr.create_array(store=dst, shape=a.shape, chunks=(chunk,), dtype=a.dtype,
                              compressors=[ZstdCodec()] if codec == "zstd" else None,
                              zarr_format=3)
        z[:] = a
    else:
        import h5py

        if codec != "none":
            sys.exit("h5py peer: only --codec none (the issue's HDF5 case is unfiltered)")
        with h5py.File(dst, "w") as f:
            d = f.create_dataset("data", shape=a.shape, dtype=a.dtype, chunks=(chunk,))
            d[...] = a
    return {"elements": int(a.shape[0]), "seconds": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tool", choices=["zarr", "h5py", "dask"])
    sub = ap.add_subparsers(dest="op", required=True)
    r = sub.add_parser("read")
    r.add_argument("path")
    q = sub.add_parser("random")
    q.add_argument("path")
    q.add_argument("--offsets", required=True)
    q.add_argument("--len", type=int, required=True)
    w = sub.add_parser("write")
    w.add_argument("src")
    w.add_argument("dst")
    w.add_argument("--chunks", type=int, required=True)
    w.add_argument("--codec", choices=["zstd", "none"], required=True)
    args = ap.parse_args()
    if args.tool == "dask" and args.op != "read":
        ap.error("dask: only `read`")
    if args.op == "read":
        out = read(args.tool, args.path)
    elif args.op == "random":
        out = random_reads(args.tool, args.path, args.offsets, args.len)
    else:
        out = write(args.tool, args.src, args.dst, args.chunks, args.codec)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
