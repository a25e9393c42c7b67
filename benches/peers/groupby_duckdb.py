#!/usr/bin/env python3
"""DuckDB's way to group a converted dataset:

    python groupby_duckdb.py DATASET --by COL --agg count,sum:duration,mean:duration,max:bytes

Columns come from the dataset's .npy files (memory-mapped numpy arrays registered with DuckDB
as a table); the group-by is one SQL query, ordered by key. Prints one JSON line shaped like
`larder groupby --json`, plus "seconds" (load + query). DuckDB's SUM and AVG do not skip NaN;
the benchmark inputs hold none.
"""

import time

import duckdb

from groupby_common import emit, load, parse_args

SQL = {"sum": "SUM", "mean": "AVG", "min": "MIN", "max": "MAX", "count": "COUNT"}


def main() -> None:
    args, aggs = parse_args(__doc__)
    t = time.perf_counter()
    names = [args.by] + sorted({c for _, _, c in aggs if c} - {args.by})
    _, meta, cols = load(args.dataset, names)
    con = duckdb.connect()
    con.register("t", {n: cols[n] for n in names})
    select = []
    for i, (_, kind, col) in enumerate(aggs):
        arg = "*" if col is None else f'"{col}"'
        select.append(f"{SQL[kind]}({arg}) AS a{i}")
    q = f'SELECT "{args.by}" AS k, {", ".join(select)} FROM t GROUP BY k ORDER BY k'
    rows = con.execute(q).fetchall()
    seconds = time.perf_counter() - t
    keys = [r[0] for r in rows]
    results = {name: [r[i + 1] for r in rows] for i, (name, _, _) in enumerate(aggs)}
    emit(args.by, meta[args.by], keys, results, aggs, seconds)


if __name__ == "__main__":
    main()
