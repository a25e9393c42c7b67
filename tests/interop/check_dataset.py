#!/usr/bin/env python3
"""Check a dataset directory written by `larder convert` against its CSV, using numpy.

Usage:  check_dataset.py DATASET_DIR SOURCE.csv

* every column file opens with np.load(mmap_mode="r"), is 1-d, has the manifest's dtype
  (np.dtype.str) and `rows` elements;
* rows == rows_read - rejected, and rejects.csv has `rejected` records with line numbers;
* reading SOURCE.csv with Python's csv module, skipping blank lines and the records whose
  first line is listed in rejects.csv, gives exactly the stored values: categoricals through
  the manifest's categories, bools from true/false, integers and floats parsed by Python;
  a missing value (empty, or one of pandas' default NA tokens) is NaN in a float column and
  `false` in the column's validity file (`valid` in the manifest) otherwise;
* pandas.read_csv of SOURCE.csv (its default NA handling) finds missing values in exactly the
  rows where larder marked them;
* string columns (`"dtype": "str"`): the offsets file has rows + 1 non-decreasing offsets from 0
  to the length of the bytes file; pyarrow wraps the two files and the validity file without a
  copy (`pa.LargeStringArray.from_buffers`), and the result equals the column pandas.read_csv
  gives (strings and missing positions);
* large dictionaries (`"dictionary"` in the manifest) are read the same way; date-time columns
  (`<M8[UNIT]`) hold what `pd.to_datetime(value, format="ISO8601", utc=True)` gives, in UNIT
  (or with the column's strftime `format` from the manifest); a missing value of a column with a
  `fill` holds the fill value.

Prints "N passed, M failed" and exits 1 on any failure.
"""
import csv
import json
import math
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa

# pandas' default na_values; the empty field is missing too.
NA = {"NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None", "<NA>", "#N/A",
      "#N/A N/A", "#NA", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN"}


def missing(raw):
    return raw.strip() == "" or raw in NA


def wrap_strings(out, file, offsets, valid=None):
    """A string column's files as a pyarrow LargeStringArray, sharing their memory."""
    data = np.load(os.path.join(out, file), mmap_mode="r")
    offs = np.load(os.path.join(out, offsets), mmap_mode="r")
    bitmap = None
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(np.asarray(valid), bitorder="little"))
    return pa.LargeStringArray.from_buffers(len(offs) - 1, pa.py_buffer(offs),
                                            pa.py_buffer(data), bitmap), data, offs


def main() -> int:
    out, src = sys.argv[1], sys.argv[2]
    m = json.load(open(os.path.join(out, "manifest.json")))
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    check(m["rows"] + m["rejected"] == m["rows_read"], "rows + rejected == rows_read")
    arrays, valid, strings = {}, {}, {}
    for c in m["columns"]:
        if "valid" in c:
            v = np.load(os.path.join(out, c["valid"]), mmap_mode="r")
            check(v.dtype == np.bool_ and v.shape == (m["rows"],), f"{c['name']}: validity file")
            valid[c["name"]] = v
        if c["dtype"] == "str":
            arr, data, offs = wrap_strings(out, c["file"], c["offsets"], valid.get(c["name"]))
            check(data.dtype.str == "|u1" and data.ndim == 1, f"{c['name']}: bytes file dtype")
            check(offs.dtype.str == "<i8" and offs.shape == (m["rows"] + 1,),
                  f"{c['name']}: offsets file {offs.dtype.str} {offs.shape}")
            check(offs[0] == 0 and offs[-1] == len(data) and bool(np.all(np.diff(offs) >= 0)),
                  f"{c['name']}: offsets run from 0 to the bytes' length, never decreasing")
            arr.validate(full=True)
            strings[c["name"]] = arr
            arrays[c["name"]] = arr.to_pylist()
            continue
        a = np.load(os.path.join(out, c["file"]), mmap_mode="r")
        check(a.dtype.str == c["dtype"], f"{c['name']}: dtype {a.dtype.str} != {c['dtype']}")
        check(a.shape == (m["rows"],), f"{c['name']}: shape {a.shape}")
        arrays[c["name"]] = a
        if "dictionary" in c:
            d = c["dictionary"]
            cats, _, _ = wrap_strings(out, d["file"], d["offsets"])
            check(cats.null_count == 0, f"{c['name']}: the dictionary has no missing category")
            c["categories"] = cats.to_pylist()
            check(len(set(c["categories"])) == len(c["categories"]),
                  f"{c['name']}: categories are distinct")
    with open(os.path.join(out, "rejects.csv"), newline="", encoding="utf-8",
              errors="replace") as f:
        rej = list(csv.reader(f))
    check(rej[0] == ["line", "column", "reason", "record"], "rejects.csv header")
    check(len(rej) - 1 == m["rejected"], "one rejects.csv record per rejected row")
    bad_lines = {int(r[0]) for r in rej[1:]}

    with open(src, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        idx = {name: header.index(name) for name in arrays}
        line = reader.line_num + 1
        i = 0
        mismatches = 0
        kept = []  # index among the CSV's records of each row larder kept
        n_rec = -1
        for rec in reader:
            start, line = line, reader.line_num + 1
            if not rec:
                continue
            n_rec += 1
            if start in bad_lines:
                continue
            kept.append(n_rec)
            for c in m["columns"]:
                # A record shorter than the header is missing the fields it lacks.
                raw = rec[idx[c["name"]]] if idx[c["name"]] < len(rec) else ""
                got = arrays[c["name"]][i]
                present = bool(valid[c["name"]][i]) if c["name"] in valid else True
                if missing(raw) and "fill" in c:
                    # Stored as the fill value, with no validity file.
                    ok = present and str(got).lower() == c["fill"].lower() or (
                        c["dtype"][1] in "iu" and int(got) == int(c["fill"]))
                elif missing(raw) and c["dtype"][1] != "f":
                    ok = not present
                elif not present:
                    ok = False
                elif "categories" in c:
                    ok = c["categories"][int(got)] == raw
                elif c["dtype"] == "str":
                    ok = got == raw
                elif c["dtype"].startswith("<M8"):
                    unit = c["dtype"][4:-1]
                    fmt = c.get("format", "ISO8601")
                    want = pd.to_datetime(raw, format=fmt, utc=True).tz_convert(None)
                    ok = got == np.datetime64(want.to_datetime64(), unit)
                elif c["dtype"].endswith("b1"):
                    ok = bool(got) == (raw.strip().lower() in ("true", "1", "t"))
                elif c["dtype"][1] == "f":
                    want = math.nan if missing(raw) else float(raw)
                    ok = (math.isnan(want) and math.isnan(got)) or float(got) == np.dtype(
                        c["dtype"]).type(want)
                else:
                    ok = int(got) == int(raw)
                if not ok:
                    mismatches += 1
                    if mismatches < 5:
                        print(f"row {i} (line {start}) {c['name']}: {got!r} vs {raw!r}")
            i += 1
        check(mismatches == 0, f"{mismatches} values differ from the CSV")
        check(i == m["rows"], f"{i} good records in the CSV, manifest says {m['rows']}")

    # pandas finds missing values where larder marked them.
    df = pd.read_csv(src, dtype=str)
    for c in m["columns"]:
        theirs = df[c["name"]].isna().to_numpy()[kept]
        a = arrays[c["name"]]
        if c["name"] in strings:
            # pyarrow's view of larder's files equals pandas' column, strings and missing rows.
            theirs_col = df[c["name"]].to_numpy()[kept]
            want = [None if isinstance(v, float) else v for v in theirs_col]
            check(strings[c["name"]].to_pylist() == want,
                  f"{c['name']}: pyarrow's strings differ from pandas'")
        if "fill" in c:
            # Missing values were filled: pandas' missing rows are those holding the fill.
            check(bool(np.all(np.asarray(a)[theirs] == np.asarray(a).dtype.type(c["fill"]))),
                  f"{c['name']}: pandas' missing rows hold the fill value")
            continue
        if c["name"] in valid:
            ours = ~np.asarray(valid[c["name"]])
        elif c["dtype"][1] == "f":
            ours = np.isnan(np.asarray(a))
        else:
            ours = np.zeros(len(a), dtype=bool)
        if c["dtype"][1] == "f":
            # "nan", "inf" written as values are NaN/inf in both; only compare where pandas
            # sees a missing value.
            check(bool(np.all(ours[theirs])), f"{c['name']}: pandas' missing values are NaN")
        else:
            check(bool(np.array_equal(ours, theirs)),
                  f"{c['name']}: missing rows differ from pandas ({int(ours.sum())} vs "
                  f"{int(theirs.sum())})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
