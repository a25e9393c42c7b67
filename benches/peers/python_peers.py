#!/usr/bin/env python3
"""The contenders of the `python` scenario (issue 26): larder's Python package and its peers.

    python python_peers.py parquet DATASET OUT.parquet       # the Parquet copy (setup, untimed)
    python python_peers.py frame larder|pandas|polars INPUT [--dtype-backend B]
                                                             # a DataFrame of the whole table
    python python_peers.py sum larder|numpy|numpy-mmap DATASET COLUMN [--repeat N]
    python python_peers.py duckdb larder|parquet INPUT [--repeat N]
    python python_peers.py convert CSV OUT_DIR               # larder.convert from Python

Each prints one JSON object on its last line: the values the harness compares across
contenders, and the in-process times (`*_s`) and memory (`*_bytes`) shown beside the whole
process's. Imports happen before any timer starts, so `load_s`, `sum_s` and `query_s` time the
operation alone; the harness times the whole process too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# The group-by of the DuckDB case: the request log has no `region`; `method` (5 values,
# categorical) plays its part, `latency_ms` (integer, 1 % missing) that of `latency`.
GROUP_SQL = ("SELECT method::VARCHAR AS k, count(*) AS n, count(latency_ms) AS n_latency, "
             "avg(latency_ms) AS mean_latency FROM {src} GROUP BY k ORDER BY k")


def status_kib(field: str) -> int:
    """`VmHWM`/`VmRSS` of this process from /proc/self/status, in bytes (0 if unknown)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def emit(d: dict) -> None:
    print(json.dumps(d, default=str), flush=True)


def frame_checks_pandas(df) -> dict:
    """Values every DataFrame must agree on (the generator's reference has them). The method
    counts come from the categorical itself (its codes), not from a column of 10M Python
    strings, which would dominate the process's peak RSS whoever made the frame."""
    counts = df["method"].value_counts()
    return {
        "rows": int(len(df)),
        "columns": [str(c) for c in df.columns],
        "sum:status": int(df["status"].sum()),
        "nulls:latency_ms": int(df["latency_ms"].isna().sum()),
        "method_counts": dict(sorted((str(k), int(v)) for k, v in counts.items() if v)),
    }


def frame_checks_polars(df) -> dict:
    import polars as pl

    counts = df.group_by(pl.col("method").cast(pl.String)).len().sort("method")
    return {
        "rows": int(df.height),
        "columns": list(df.columns),
        "sum:status": int(df["status"].sum()),
        "nulls:latency_ms": int(df["latency_ms"].null_count()),
        "method_counts": {str(k): int(v) for k, v in counts.iter_rows()},
    }


def cmd_parquet(a) -> None:
    """The dataset as Parquet, written once by pyarrow (zstd): the same columns and types."""
    import pyarrow.parquet as pq

    import larder

    table = larder.open_dataset(a.input).to_arrow()
    tmp = Path(str(a.out) + ".partial")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, a.out)
    emit({"rows": table.num_rows, "bytes": Path(a.out).stat().st_size})


def cmd_frame(a) -> None:
    import pandas as pd  # noqa: F401 - every contender pays for its imports before the timer
    import pyarrow  # noqa: F401

    # pandas' own default unless a backend is named; larder's to_pandas() default is
    # "numpy_nullable" (Int64 with masks, string, category), as pd.read_csv's with it.
    backend = {} if a.dtype_backend is None else {"dtype_backend": a.dtype_backend}
    if a.who == "larder":
        import larder

        before = status_kib("VmRSS")
        t = time.perf_counter()
        df = larder.open_dataset(a.input).to_pandas(**backend)
        load_s = time.perf_counter() - t
    elif a.who == "pandas":
        before = status_kib("VmRSS")
        t = time.perf_counter()
        df = pd.read_parquet(a.input, engine="pyarrow", **backend)
        load_s = time.perf_counter() - t
    else:
        import polars as pl

        before = status_kib("VmRSS")
        t = time.perf_counter()
        df = pl.read_parquet(a.input)
        load_s = time.perf_counter() - t
    after = status_kib("VmRSS")
    hwm = status_kib("VmHWM")
    checks = frame_checks_polars(df) if a.who == "polars" else frame_checks_pandas(df)
    emit({**checks, "load_s": load_s, "load_rss_growth_bytes": after - before,
          "load_hwm_bytes": hwm})


def column_file(dataset: Path, column: str) -> Path:
    manifest = json.loads((dataset / "manifest.json").read_text())
    for c in manifest["columns"]:
        if c["name"] == column:
            return dataset / c["file"]
    raise SystemExit(f"{dataset}: no column {column!r}")


def timed(fn, repeat: int) -> tuple[object, list[float]]:
    times = []
    value = None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, times


def cmd_sum(a) -> None:
    import numpy as np

    if a.who == "larder":
        import larder

        values = larder.open_dataset(a.input)[a.column].values  # the zero-copy view
    elif a.who == "numpy-mmap":
        # numpy's own view of the same mapped file: what a mapping costs against RAM.
        values = np.load(column_file(Path(a.input), a.column), mmap_mode="r")
    else:
        # The same values, read into RAM (an ordinary in-memory array).
        values = np.array(np.load(column_file(Path(a.input), a.column)))
    first, _ = timed(values.sum, 1)  # warm: the pages are in and mapped from here on
    total, times = timed(values.sum, a.repeat)
    assert total == first
    emit({"sum": int(total), "dtype": values.dtype.str, "rows": int(values.shape[0]),
          "sum_s": statistics.median(times), "sum_min_s": min(times)})


def cmd_duckdb(a) -> None:
    import duckdb

    con = duckdb.connect()
    threads = os.environ.get("DUCKDB_THREADS")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if a.who == "larder":
        import larder

        ds = larder.open_dataset(a.input)
        sql = GROUP_SQL.format(src="ds")
    else:
        ds = None
        sql = GROUP_SQL.format(src="read_parquet('{}')".format(str(a.input).replace("'", "''")))

    def query():
        # DuckDB finds `ds` among the calling frame's variables (its replacement scan): name
        # it here so that it is one of this frame's.
        _ = ds
        return con.sql(sql).fetchall()

    rows, first = timed(query, 1)
    rows, times = timed(query, a.repeat)
    emit({"groups": {str(k): {"n": int(n), "n_latency": int(nl), "mean_latency": float(m)}
                     for k, n, nl, m in rows},
          "query_s": statistics.median(times), "first_query_s": first[0]})


def cmd_convert(a) -> None:
    import larder

    t = time.perf_counter()
    summary = larder.convert(a.input, a.out)
    emit({**summary, "seconds": time.perf_counter() - t, "peak_rss_bytes": status_kib("VmHWM")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parquet")
    p.add_argument("input")
    p.add_argument("out")
    p = sub.add_parser("frame")
    p.add_argument("who", choices=["larder", "pandas", "polars"])
    p.add_argument("input")
    p.add_argument("--dtype-backend", choices=["numpy_nullable", "pyarrow"], default=None)
    p = sub.add_parser("sum")
    p.add_argument("who", choices=["larder", "numpy", "numpy-mmap"])
    p.add_argument("input")
    p.add_argument("column")
    p.add_argument("--repeat", type=int, default=20)
    p = sub.add_parser("duckdb")
    p.add_argument("who", choices=["larder", "parquet"])
    p.add_argument("input")
    p.add_argument("--repeat", type=int, default=3)
    p = sub.add_parser("convert")
    p.add_argument("input")
    p.add_argument("out")
    a = ap.parse_args()
    {"parquet": cmd_parquet, "frame": cmd_frame, "sum": cmd_sum, "duckdb": cmd_duckdb,
     "convert": cmd_convert}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
