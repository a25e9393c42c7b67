#!/usr/bin/env python3
"""Peer for `larder convert` of the request log: DuckDB's `read_csv` with its own inference,
then one file per column.

Usage: convert_log_duckdb.py INPUT.csv OUT_DIR --na TOKEN[,TOKEN...] [--threads N]

Runs `read_csv(INPUT, na_values=["", *TOKENS])` (the empty field is missing too, as for the
other contenders), fetches the result as Arrow and writes each column
into OUT_DIR as larder lays it out (`log_layout.save_column`). Prints one JSON line:
{"tool", "rows", "seconds", "peak_rss_bytes"}.
"""
import json
import os
import resource
import sys
import time

import duckdb

from log_layout import save_column


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2 or "--na" not in args:
        sys.exit(__doc__)
    src, out = args[0], args[1]
    na = args[args.index("--na") + 1].split(",")
    threads = int(os.environ.get("DUCKDB_THREADS", os.cpu_count() or 1))
    if "--threads" in args:
        threads = int(args[args.index("--threads") + 1])
    t0 = time.perf_counter()
    con = duckdb.connect(config={"threads": threads})
    table = con.read_csv(src, na_values=["", *na]).to_arrow_table()
    os.makedirs(out, exist_ok=True)
    for name in table.column_names:
        save_column(out, name, table.column(name))
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"tool": "duckdb", "rows": table.num_rows, "seconds": secs,
                      "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
