"""Shared by groupby_polars.py and groupby_duckdb.py: reading a converted dataset, parsing
`--agg`, and printing results in the shape of `larder groupby --json`."""

import argparse
import json
import math
import os

import numpy as np


def parse_args(doc: str):
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("dataset")
    ap.add_argument("--by", required=True)
    ap.add_argument("--agg", required=True, help="count,sum:COL,mean:COL,min:COL,max:COL,count:COL")
    args = ap.parse_args()
    aggs = []
    for a in args.agg.split(","):
        kind, _, col = a.partition(":")
        if kind not in ("count", "sum", "mean", "min", "max") or (kind != "count" and not col):
            raise SystemExit(f"bad aggregate {a!r}")
        aggs.append((a, kind, col or None))
    return args, aggs


def load(dataset: str, names):
    """The named columns as memory-mapped numpy arrays, and the manifest."""
    with open(os.path.join(dataset, "manifest.json")) as f:
        manifest = json.load(f)
    by_name = {c["name"]: c for c in manifest["columns"]}
    cols = {n: np.load(os.path.join(dataset, by_name[n]["file"]), mmap_mode="r") for n in names}
    return manifest, by_name, cols


def value(v):
    if v is None:
        return "NaN"
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def emit(by, by_meta, keys, results, aggs, seconds):
    cats = by_meta.get("categories")
    out_keys = [cats[int(k)] if cats is not None else int(k) for k in keys]
    print(json.dumps({
        "by": by,
        "keys": out_keys,
        "aggregates": {name: [value(v) for v in results[name]] for name, _, _ in aggs},
        "seconds": seconds,
    }))
