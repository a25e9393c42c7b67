#!/usr/bin/env python3
"""Peer for `larder convert`: polars' fastest path (scan_csv, streaming) + np.save per column.

Usage: convert_polars.py INPUT.csv OUT_DIR [--cat NAME ...]

Reads INPUT with polars' lazy CSV scanner in streaming mode, columns typed like larder's
inference (integers -> int64, decimals -> float64) and the --cat columns as categoricals, then
writes one .npy per column into OUT_DIR (categoricals as their physical codes). Prints one JSON
line: {"tool", "rows", "seconds", "peak_rss_bytes"}.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import polars as pl


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, out = args[0], args[1]
    cats = [args[i + 1] for i, a in enumerate(args) if a == "--cat"]
    t0 = time.perf_counter()
    lf = pl.scan_csv(src)
    if cats:
        lf = lf.with_columns([pl.col(c).cast(pl.Categorical) for c in cats])
    df = lf.collect(engine="streaming")
    os.makedirs(out, exist_ok=True)
    for name in df.columns:
        s = df.get_column(name)
        if s.dtype == pl.Categorical:
            arr = s.to_physical().to_numpy()
        elif s.dtype == pl.String:
            arr = s.cast(pl.Categorical).to_physical().to_numpy()
        else:
            arr = s.to_numpy()
        np.save(os.path.join(out, f"{name}.npy"), arr)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"tool": "polars", "rows": df.height, "seconds": secs, "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
