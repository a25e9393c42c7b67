#!/usr/bin/env python3
"""Check that zarr-python, h5py and dask read what larder writes, with identical values.

    check_chunked.py SRC.npy OUT [SRC.npy OUT ...]

Each OUT is a larder-written copy of SRC.npy: a Zarr v3 directory (DIR.zarr) or an HDF5
dataset (FILE.h5:/name). The values are compared with numpy's reading of SRC.npy, exactly
(NaN equal to NaN). Zarr outputs are also read with dask.array.from_zarr, and their metadata
must be Zarr format 3. Prints one line per pair; exits 1 on the first mismatch.
"""

import json
import os
import sys

import dask.array as da
import h5py
import numpy as np
import zarr


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False, f"shape {a.shape} != {b.shape}"
    if a.dtype.newbyteorder("=") != b.dtype.newbyteorder("="):
        return False, f"dtype {a.dtype} != {b.dtype}"
    if a.dtype.kind in "fc":
        ok = np.array_equal(a, b, equal_nan=True)
    else:
        ok = np.array_equal(a, b)
    return ok, "" if ok else "values differ"


def check(src, out):
    want = np.load(src)
    if out.endswith(".zarr"):
        with open(os.path.join(out, "zarr.json")) as f:
            meta = json.load(f)
        if meta.get("zarr_format") != 3 or meta.get("node_type") != "array":
            return False, f"metadata is not a zarr v3 array: {meta.get('zarr_format')}"
        got = zarr.open_array(out, mode="r")[...]
        ok, why = same(want, got)
        if not ok:
            return ok, "zarr-python: " + why
        if want.ndim > 0:
            got = da.from_zarr(out).compute()
            ok, why = same(want, got)
            if not ok:
                return ok, "dask: " + why
        return True, ""
    file, _, inner = out.partition(":")
    with h5py.File(file, "r") as f:
        got = f[inner or "/data"][()]
    ok, why = same(want, got)
    return ok, "" if ok else "h5py: " + why


def main(args):
    if len(args) % 2:
        print("usage: check_chunked.py SRC.npy OUT [SRC.npy OUT ...]", file=sys.stderr)
        return 2
    failed = 0
    for src, out in zip(args[::2], args[1::2]):
        ok, why = check(src, out)
        print(f"{'ok  ' if ok else 'FAIL'} {out} ({os.path.basename(src)}) {why}")
        failed += not ok
    print(f"{len(args) // 2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
