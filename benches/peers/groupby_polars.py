#!/usr/bin/env python3
"""polars' way to group a converted dataset:

    python groupby_polars.py DATASET --by COL --agg count,sum:duration,mean:duration,max:bytes

Columns come from the dataset's .npy files (memory-mapped, handed to polars without a copy
where polars allows); the group-by is `df.group_by(by).agg(...)`, sorted by key. Prints one
JSON line shaped like `larder groupby --json`, plus "seconds" (load + group-by). polars' sum
and mean do not skip NaN; the benchmark inputs hold none.
"""

import time

import polars as pl

from groupby_common import emit, load, parse_args


def main() -> None:
    args, aggs = parse_args(__doc__)
    t = time.perf_counter()
    names = [args.by] + sorted({c for _, _, c in aggs if c} - {args.by})
    _, meta, cols = load(args.dataset, names)
    df = pl.DataFrame({n: cols[n] for n in names})
    exprs = []
    for name, kind, col in aggs:
        if kind == "count":
            e = pl.len() if col is None else pl.col(col).count()
        else:
            e = getattr(pl.col(col), kind)()
        exprs.append(e.alias(name))
    res = df.group_by(args.by).agg(exprs).sort(args.by)
    seconds = time.perf_counter() - t
    emit(args.by, meta[args.by], res[args.by].to_list(),
         {name: res[name].to_list() for name, _, _ in aggs}, aggs, seconds)


if __name__ == "__main__":
    main()
