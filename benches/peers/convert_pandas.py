#!/usr/bin/env python3
"""Peer for `larder convert`: pandas read_csv (C engine) + np.save per column.

Usage: convert_pandas.py INPUT.csv OUT_DIR [--cat NAME ...] [--chunksize N]

Without --chunksize, reads the whole file at once; with it, reads in chunks and appends each
column to a raw file that becomes a .npy at the end (bounded memory, like larder). The --cat
columns (and any string column) are stored as categorical codes. Prints one JSON line:
{"tool", "rows", "seconds", "peak_rss_bytes"}.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd


def codes(s: pd.Series, cats: dict) -> np.ndarray:
    """Categorical codes with a dictionary kept across chunks (first-appearance order)."""
    d = cats.setdefault(s.name, {})
    u = pd.unique(s)
    for v in u:
        if v not in d:
            d[v] = len(d)
    return s.map(d).to_numpy(dtype=np.uint32)


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, out = args[0], args[1]
    cat_names = [args[i + 1] for i, a in enumerate(args) if a == "--cat"]
    chunksize = next((int(args[i + 1]) for i, a in enumerate(args) if a == "--chunksize"), None)
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    dtype = {c: "category" for c in cat_names} if chunksize is None else None
    rows = 0
    if chunksize is None:
        df = pd.read_csv(src, dtype=dtype)
        for name in df.columns:
            s = df[name]
            if isinstance(s.dtype, pd.CategoricalDtype):
                arr = s.cat.codes.to_numpy()
            elif s.dtype == object:
                arr = s.astype("category").cat.codes.to_numpy()
            else:
                arr = s.to_numpy()
            np.save(os.path.join(out, f"{name}.npy"), arr)
        rows = len(df)
    else:
        files, dtypes, cats = {}, {}, {}
        for chunk in pd.read_csv(src, chunksize=chunksize):
            for name in chunk.columns:
                s = chunk[name]
                arr = codes(s, cats) if (s.dtype == object or name in cat_names) else s.to_numpy()
                if name not in files:
                    files[name] = open(os.path.join(out, f"{name}.raw"), "wb")
                    dtypes[name] = arr.dtype
                files[name].write(np.ascontiguousarray(arr, dtype=dtypes[name]).tobytes())
            rows += len(chunk)
        for name, f in files.items():
            f.close()
            raw = os.path.join(out, f"{name}.raw")
            mm = np.memmap(raw, dtype=dtypes[name], mode="r")
            np.save(os.path.join(out, f"{name}.npy"), mm)
            del mm
            os.remove(raw)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tool = "pandas" if chunksize is None else "pandas-chunked"
    print(json.dumps({"tool": tool, "rows": rows, "seconds": secs, "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
