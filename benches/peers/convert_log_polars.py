#!/usr/bin/env python3
"""Peer for `larder convert` of the request log: polars' streaming CSV scan, then one file per
column.

Usage: convert_log_polars.py INPUT.csv OUT_DIR --na TOKEN[,TOKEN...] [--cat NAME ...]

Reads INPUT with `pl.scan_csv(try_parse_dates=True, null_values=TOKENS)` collected by the
streaming engine (the --cat columns cast to `pl.Categorical`), and writes each column into
OUT_DIR as larder lays it out (`log_layout.save_column`). Prints one JSON line:
{"tool", "rows", "seconds", "peak_rss_bytes"}.
"""
import json
import os
import resource
import sys
import time

import polars as pl

from log_layout import save_column


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2 or "--na" not in args:
        sys.exit(__doc__)
    src, out = args[0], args[1]
    na = args[args.index("--na") + 1].split(",")
    cats = [args[i + 1] for i, a in enumerate(args) if a == "--cat"]
    t0 = time.perf_counter()
    lf = pl.scan_csv(src, try_parse_dates=True, null_values=na)
    if cats:
        lf = lf.with_columns([pl.col(c).cast(pl.Categorical) for c in cats])
    df = lf.collect(engine="streaming")
    os.makedirs(out, exist_ok=True)
    for name in df.columns:
        save_column(out, name, df.get_column(name).to_arrow())
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"tool": "polars", "rows": df.height, "seconds": secs, "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
