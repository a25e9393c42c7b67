#!/usr/bin/env python3
"""A differential test of `larder convert`, `larder stats` and `larder groupby` against pandas,
on seeded random CSV files.

Usage:  check_differential.py LARDER_BINARY [--seed N] [--files N] [--minutes M]
            [--hazards all|default|NAME,…] [--mix random|single] [--only I,…] [--out DIR]
        check_differential.py LARDER_BINARY --self-test [--files N] [--seed N]

Each file is made from the seed and its index alone (so `--seed S --only I` makes it again),
with the hazards (below) chosen for it: with `--mix random` each enabled hazard with
probability one half, with `--mix single` exactly one of them, in turn (a clean attribution:
a mismatch then has one cause). The run stops after `--files` files or `--minutes` minutes,
whichever comes first. For every file:

* larder converts it with no options; it must exit 0, reject nothing and write the rows
  `pd.read_csv(path, float_precision="round_trip", low_memory=False)` reads (pandas' defaults
  otherwise; low_memory=False so that pandas types a column once, not per chunk of rows);
* every column is compared with pandas' (tests/realdata/compare.py: values, missing values,
  kind); a column the generator wrote as ISO 8601 dates or date-times must be datetime64;
* `larder stats FILE.npy --json --quantile …` of every number column: count, missing count,
  sum, mean, min, max and seven quantiles against pandas and `np.nanquantile`;
* `larder groupby --json` by up to two key columns (categorical, bool, or small-range integers)
  with count, and count/sum/mean/min/max of up to three number columns, against pandas'
  `groupby(dropna=True)`;
* of every date-time column, `larder stats` (count, missing count, min, max, mean truncated to
  the unit) against pandas' to_datetime, and `larder groupby --by TS --every W` (W one of 1d,
  7d, 1h, 90min) against pandas' groups of `dt.floor(W)`.

`--self-test` checks the checker: it changes one present value in each converted file (a
number, a bool, a category code or a time) and fails unless every such file gets a mismatch.

Differences by documented design, normalised (docs/cli.md "Values", docs/format.md):

* columns are matched by position; a name may be the header's field as written or pandas'
  name for it (`a.1` for a repeated `a`, `Unnamed: 3` for an empty one);
* a missing integer or bool: pandas makes the column float64 (or object) with NaN, larder keeps
  the integers and marks the row in a validity file; compared as float64 / bools;
* strings: larder stores `cat` (codes and a dictionary) or `str` (Arrow's large-string layout),
  pandas `str`/object; compared as Python strings;
* ISO 8601 date-times: pandas leaves them strings, larder stores datetime64 in UTC; compared
  with `pd.to_datetime(format="ISO8601", utc=True)`, whose NaT (`NaT` included) is missing;
* R's row names (records one field longer than the header): pandas makes them its index; larder
  may drop them or keep them as a first column (then compared with pandas' index);
* statistics of integers are compared exactly (Python ints), of floats to 1e-12 of the sum of
  magnitudes (larder's sums are compensated, pandas' pairwise); quantiles are np.nanquantile's
  exactly (NaN where numpy's interpolation subtracts two equal infinities);
* bool group keys: larder prints 0 and 1, pandas False and True;
* bools are left out of `stats` (pandas sums them as 0/1; larder's stats of a bool column are
  not pandas' describe()).

Hazards (`--hazards`: `default`, `all`, or names; `default` is what larder passes today):
"""
import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

from compare import (Checks, column, datetime_stats, groupby, kind_of, label_of, load, stats,
                     times)

HAZARDS = {
    "quoting": "fields quoted at random (numbers, NA tokens and names too), `\"\"` inside them",
    "crlf": "CRLF line ends",
    "na": "pandas' NA tokens, empty and quoted empty fields in every kind of column",
    "newlines": "free text with commas, quotes and LF / CRLF line breaks inside quoted fields",
    "bigint": "integers over the whole int64 range, -2^63 and 2^63-1 included",
    "offsets": "date-times with `Z`, `+hh:mm`, `-hhmm` and `+hh` offsets",
    "categoricals": "dictionaries of up to 3 000 labels, new labels after the first 10 000 rows",
    "large": "files of 10 001 to 14 000 rows (past the inference sample, several 1 MiB blocks)",
    "stray_quote": "a `\"` inside an unquoted field (`5'11\"`), which pandas keeps literally",
    "row_names": "R's write.csv row names: records one field longer than the header",
    "short_rows": "records with fewer fields than the header (pandas fills NaN)",
    "u64": "integers between 2^63 and 2^64-1 (pandas: uint64)",
    "inf": "inf, -inf, Infinity, INF in float columns",
    "late_type": "past row 10 000, a decimal or a word in an integer column",
    "dup_names": "repeated header names",
    "empty_names": "empty header names",
    "blank_strings": "blank-only strings (`   `, a tab) in text columns",
    "tf": "text columns of T and F",
    "nat": "`NaT` in date-time columns",
}
# The hazards a run enables unless told otherwise: all of them (a hazard is listed apart so that
# a run can isolate it with --mix single).
DEFAULT = list(HAZARDS)
__doc__ += "".join(f"\n  {k:<14}{v}{'' if k in DEFAULT else '  [off by default]'}"
                   for k, v in HAZARDS.items()) + "\n"

NA_TOKENS = ["NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None", "<NA>",
             "#N/A", "#N/A N/A", "#NA", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN", ""]
AVOID = {t.lower() for t in NA_TOKENS} | {"true", "false", "t", "f", "inf", "infinity", "nat"}
SAMPLE = 10_000  # larder's inference sample (docs/cli.md, --infer-rows)
QUANTILES = (0, 0.1, 0.25, 0.5, 0.75, 0.9, 1)
LETTERS = "abcdefghijklmnopqrstuvwxyzéßø北京"


def word(rng):
    while True:
        w = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 8)))
        if w.lower() not in AVOID:
            return w


class Column:
    """One generated column: its header name, kind, cells (text as written) and hazards."""

    def __init__(self, name, kind):
        self.name, self.kind, self.cells, self.hazards = name, kind, [], set()
        self.stray = set()  # rows whose cell holds a quote and is written unquoted


def gen_column(rng, kind, n, on, j):
    c = Column(f"{kind}_{j}", kind)
    cells = c.cells
    if kind == "int":
        lo = rng.choice([0, -5, -1000])
        cells += [str(rng.randint(lo, lo + rng.choice([3, 40]))) for _ in range(n)]
    elif kind == "wideint":
        if "bigint" in on:
            edges = [str(-2**63), str(2**63 - 1)]
            cells += [rng.choice(edges) if rng.random() < 0.05 else
                      str(rng.randint(-10**rng.randint(1, 18), 10**rng.randint(1, 18)))
                      for _ in range(n)]
            c.hazards.add("bigint")
        else:
            cells += [str(rng.randint(-10**12, 10**12)) for _ in range(n)]
    elif kind == "u64":
        cells += [str(rng.randint(2**63, 2**64 - 1) if rng.random() < 0.5 else
                      rng.randint(0, 2**40)) for _ in range(n)]
        cells[0] = str(2**64 - 1)
        c.hazards.add("u64")
    elif kind == "float":
        for _ in range(n):
            x = rng.uniform(-1, 1) * 10.0 ** rng.randint(-12, 15)
            form = rng.randrange(6)
            cells.append(repr(x) if form == 0 else f"{x:.3f}" if form == 1 else
                         f"{x:e}" if form == 2 else f"{x:.17g}" if form == 3 else
                         str(rng.randint(-99, 99)) if form == 4 else
                         rng.choice([".5", "+4.25", "-0.0", "1E3", "-2.5e-3"]))
        if "inf" in on:
            for _ in range(max(1, n // 20)):
                cells[rng.randrange(n)] = rng.choice(["inf", "-inf", "Infinity", "-Infinity",
                                                      "INF"])
            c.hazards.add("inf")
    elif kind == "bool":
        styles = [("true", "false"), ("True", "False"), ("TRUE", "FALSE")]
        style = rng.choice(styles)
        cells += [(rng.choice(styles) if rng.random() < 0.1 else style)[rng.random() < 0.5]
                  for _ in range(n)]
    elif kind == "cat":
        size = rng.choice([2, 5, 20, 60] + ([300, 3000] if "categoricals" in on else []))
        labels = list(dict.fromkeys(word(rng) + (f" {word(rng)}" if rng.random() < 0.2 else "")
                                    for _ in range(size)))
        cells += [rng.choice(labels) for _ in range(n)]
        if "categoricals" in on and n > SAMPLE and rng.random() < 0.5:
            for i in range(SAMPLE, n):  # labels first seen past the inference sample
                if rng.random() < 0.3:
                    cells[i] = f"late {word(rng)} {i}"
            c.hazards.add("categoricals")
    elif kind == "text":
        for _ in range(n):
            t = " ".join(word(rng) for _ in range(rng.randint(1, 6)))
            r = rng.random()
            if r < 0.1:
                t = f"{t}, {word(rng)}"
            elif r < 0.15:
                t = f'he said "{t}"'
            elif r < 0.2:
                t = f" {t} "
            if "newlines" in on and rng.random() < 0.1:
                t = t + rng.choice(["\n", "\r\n"]) + word(rng)
                c.hazards.add("newlines")
            cells.append(t)
        if "stray_quote" in on:
            for _ in range(max(1, n // 50)):
                i = rng.randrange(n)
                cells[i] = f"{word(rng)} {rng.randint(4, 6)}'{rng.randint(0, 11)}\""
                c.stray.add(i)
            c.hazards.add("stray_quote")
        if "blank_strings" in on:
            for _ in range(max(1, n // 30)):
                cells[rng.randrange(n)] = rng.choice(["   ", " ", "\t"])
            c.hazards.add("blank_strings")
    elif kind == "tf":
        cells += [rng.choice("TF") for _ in range(n)]
        c.hazards.add("tf")
    elif kind in ("time", "date"):
        digits = rng.choice([0, 0, 3, 6, 9])
        sep = rng.choice("T ")
        offsets = "offsets" in on and kind == "time" and rng.random() < 0.7
        base = np.datetime64("1990-01-01T00:00:00", "s").astype(np.int64)
        for _ in range(n):
            s = base + rng.randrange(40 * 365 * 86400)
            t = str(np.datetime64(int(s), "s"))
            if kind == "date":
                cells.append(t[:10])
                continue
            t = t[:10] + sep + t[11:]
            if digits:
                t += "." + str(rng.randrange(10**digits)).zfill(digits)
            if offsets:
                t += rng.choice(["Z", "+05:30", "-08:00", "+0100", "-0330", "+02", "Z"])
            cells.append(t)
        if offsets:
            c.hazards.add("offsets")
        if "nat" in on:
            for _ in range(max(1, n // 40)):
                cells[rng.randrange(n)] = "NaT"
            c.hazards.add("nat")
    if "na" in on and rng.random() < 0.6 and kind != "u64":
        share = rng.choice([0.01, 0.05, 0.2])
        for i in range(n):
            if rng.random() < share:
                cells[i] = rng.choice(NA_TOKENS)
        c.hazards.add("na")
    return c


def make(seed, index, enabled, mix):
    """The CSV text of file `index` and its description."""
    rng = random.Random(f"{seed}:{index}")
    if mix == "single":
        on = {enabled[index % len(enabled)]} if enabled else set()
    else:
        on = {h for h in enabled if rng.random() < 0.5}
    if "late_type" in on or ("large" in on and rng.random() < 0.3):
        n = SAMPLE + rng.randint(1, 4000)
        on.add("large")
    else:
        n = rng.choice([1, 2, 5, 30, 200, 200, 1000, 3000])
    kinds = ["int", "int", "wideint", "float", "float", "bool", "cat", "cat", "text", "time",
             "date"]
    cols = [gen_column(rng, rng.choice(kinds), n, on, j) for j in range(rng.randint(2, 9))]
    for kind, hazard in (("u64", "u64"), ("tf", "tf"), ("text", "stray_quote"),
                         ("text", "blank_strings"), ("time", "nat"), ("float", "inf")):
        if hazard in on and not any(hazard in c.hazards for c in cols):
            cols.append(gen_column(rng, kind, n, on, len(cols)))
    if "late_type" in on:
        late = gen_column(rng, rng.choice(["int", "wideint"]), n, on - {"na"}, len(cols))
        text = rng.random() < 0.5
        for i in rng.sample(range(SAMPLE, n), min(3, n - SAMPLE)):
            late.cells[i] = word(rng) if text else f"{rng.randint(-50, 50)}.5"
        late.hazards.add("late_type")
        cols.append(late)
    if "dup_names" in on and len(cols) > 1:
        j = rng.randrange(1, len(cols))
        cols[j].name = cols[rng.randrange(j)].name
        cols[j].hazards.add("dup_names")
    if "empty_names" in on:
        j = rng.randrange(len(cols))
        cols[j].name = ""
        cols[j].hazards.add("empty_names")
    eol = "\r\n" if "crlf" in on else "\n"
    quote_share = 0.15 if "quoting" in on else 0.0

    def field(v, raw=False):
        """`v` quoted when it must be (unless `raw`: a stray quote), else at random."""
        must = v.startswith('"') or (not raw and any(ch in v for ch in ',"\r\n'))
        if must or (rng.random() < quote_share and '"' not in v):
            return '"' + v.replace('"', '""') + '"'
        return v

    header = [field(c.name) for c in cols]
    if cols and all(h == "" for h in header):
        header[0] = '""'
    lines = [",".join(header) + eol]
    line_of = []  # the input line where each record starts
    line = 2
    short = set()
    if "short_rows" in on and n > 0:
        short = set(rng.sample(range(n), max(1, n // 50)))
    for i in range(n):
        fields = [field(c.cells[i], raw=i in c.stray) for c in cols]
        if i in short and len(fields) > 1 and fields[0] not in ("", '""'):
            fields = fields[:rng.randint(1, len(fields) - 1)]
        if "row_names" in on:
            fields.insert(0, f'"{i + 1}"')
        if len(fields) == 1 and fields[0] == "":
            fields[0] = '""'  # not a blank line, which both readers skip
        text = ",".join(fields) + eol
        lines.append(text)
        line_of.append(line)
        line += text.count("\n")
    for c in cols:
        if "short_rows" in on and short:
            c.hazards.add("short_rows")
        if "row_names" in on:
            c.hazards.add("row_names")
        if "crlf" in on:
            c.hazards.add("crlf")
        if "quoting" in on:
            c.hazards.add("quoting")
    return "".join(lines), {"on": on, "cols": cols, "rows": n, "line_of": line_of}


class TaggedChecks(Checks):
    """Checks that count, per hazard, the checks and failures made while it was in play."""

    def __init__(self):
        super().__init__(quiet=True)
        self.tags = set()
        self.per = {}
        self.file_failures = []
        self.refused = []  # pandas' errors for the files it refuses to read

    def __call__(self, ok, what, **detail):
        for t in self.tags or {"(none)"}:
            p = self.per.setdefault(t, [0, 0])
            p[0] += 1
            p[1] += not ok
        if not ok:
            self.file_failures.append((what, detail, sorted(self.tags)))
        return super().__call__(ok, what, **detail)


def tamper(out, rng):
    """Changes one present value of one column of the dataset `out` (for `--self-test`);
    returns what it changed, or None when no column has a value to change."""
    m = json.load(open(os.path.join(out, "manifest.json")))
    for c in rng.sample(m["columns"], len(m["columns"])):
        kind = kind_of(c)
        if kind == "str" or not m["rows"]:
            continue
        path = os.path.join(out, c["file"])
        values = np.load(path)
        _, missing = load(out, c)
        rows = np.flatnonzero(~missing)
        if not len(rows):
            continue
        row = int(rng.choice(rows))
        if kind == "cat":
            n = len(c.get("categories", [])) or 0
            if n < 2:
                continue
            values[row] = (int(values[row]) + 1) % n
        elif kind == "b":
            values[row] = not values[row]
        elif kind == "f" and not np.isfinite(values[row]):
            values[row] = 0.5
        else:
            values[row] = values[row] + (1 if kind != "M8" else np.timedelta64(1, "D"))
        np.save(path, values)
        return f"column {c['name']!r} row {row}"
    return None


def bool_label(key):
    """A bool group key: larder prints 0/1 (or false/true), pandas False/True."""
    return {"0": "False", "1": "True", "false": "False", "true": "True"}.get(str(key),
                                                                           str(key))


def compare_file(check, larder, path, out, desc, self_test=None):
    """Converts `path` into `out` and compares everything with pandas."""
    cols, on = desc["cols"], desc["on"]
    check.tags = set(on)
    r = subprocess.run([larder, "convert", path, out, "-q"], capture_output=True)
    if not check(r.returncode == 0, f"convert exited {r.returncode}: "
                 f"{r.stderr.decode(errors='replace').strip()[:300]}"):
        return 0
    if self_test is not None:
        desc["tampered"] = tamper(out, self_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df = pd.read_csv(path, float_precision="round_trip", low_memory=False)
        except pd.errors.ParserError as e:
            # pandas takes the first record's width as the file's: with R's row names, a short
            # first record makes it refuse the full records after it ("Expected N fields in
            # line L, saw N+1"). Nothing to compare with; counted apart.
            check.refused.append(str(e).strip())
            return 0
    m = json.load(open(os.path.join(out, "manifest.json")))
    first = ""
    if m["rejected"]:
        rows = list(csv.reader(open(os.path.join(out, "rejects.csv"), newline="")))
        if len(rows) > 1:
            first = f"; first reject: line {rows[1][-4]}, column {rows[1][-3]!r}: {rows[1][-2]}"
    if not check(m["rows"] == len(df) and m["rejected"] == 0,
                 f"{m['rows']} rows written, {m['rejected']} rejected; pandas reads {len(df)}"
                 f"{first}"):
        return 0
    mcols = m["columns"]
    if "row_names" in on and len(mcols) == df.shape[1] + 1:
        df = df.reset_index()  # R's row names: pandas' index, larder's first column
        cols = [None] + cols
    if not check(len(mcols) == df.shape[1], f"{len(mcols)} columns, pandas {df.shape[1]}"):
        return 0
    kinds = []
    for j, c in enumerate(mcols):
        gen = cols[j]
        check.tags = (gen.hazards if gen else {"row_names"}) | (on & {"crlf", "quoting"})
        what = f"column {j} {c['name']!r}"
        if gen:
            check(c["name"] in (gen.name, str(df.columns[j])),
                  f"{what}: name {c['name']!r}, header {gen.name!r}, pandas {df.columns[j]!r}")
        col = df.iloc[:, j]
        # A column of nothing but `NaT` is text to pandas and larder alike.
        if gen and gen.kind in ("time", "date") and not pd.api.types.is_numeric_dtype(col) \
                and any(str(v).lower() != "nat" for v in col.dropna()):
            check(kind_of(c) == "M8", f"{what}: ISO 8601 times, larder {c['dtype']}")
        kinds.append(column(check, what, out, c, col))
    # Statistics of every number column (not bools: pandas sums them as 0/1, larder refuses).
    numbers = [j for j, c in enumerate(mcols) if kinds[j] in "iuf" and len(kinds[j]) == 1
               and pd.api.types.is_numeric_dtype(df.iloc[:, j])
               and not pd.api.types.is_bool_dtype(df.iloc[:, j])]
    for j in numbers:
        gen = cols[j]
        check.tags = (gen.hazards if gen else {"row_names"}) | (on & {"crlf", "quoting"})
        stats(check, larder, f"column {j} {mcols[j]['name']!r}", os.path.join(
            out, mcols[j]["file"]), df.iloc[:, j], quantiles=QUANTILES if len(df) else ())
    # Group-bys by categorical and small-range integer keys.
    keys = [j for j, c in enumerate(mcols) if kinds[j] in ("cat", "b") or (
        kinds[j] in "iu" and len(kinds[j]) == 1 and df.iloc[:, j].notna().any()
        and pd.api.types.is_numeric_dtype(df.iloc[:, j])
        and int(df.iloc[:, j].max()) - int(df.iloc[:, j].min()) < 2**20)]
    for j in keys[:2]:
        values = [v for v in numbers if v != j][:3]
        involved = [cols[k] for k in [j] + values]
        check.tags = set().union(*[g.hazards if g else {"row_names"} for g in involved])
        groupby(check, larder, f"column {j}", out, mcols[j]["name"], df.iloc[:, j],
                [(mcols[k]["name"], df.iloc[:, k]) for k in values],
                label=bool_label if kinds[j] == "b" else label_of)
    # Date-times: statistics, and time buckets as pandas' dt.floor makes them.
    rng = random.Random(out)
    for j in [j for j, c in enumerate(mcols) if kinds[j] == "M8"
              and not pd.api.types.is_numeric_dtype(df.iloc[:, j])]:
        gen, dtype = cols[j], mcols[j]["dtype"]
        check.tags = (gen.hazards if gen else set()) | (on & {"crlf", "quoting"})
        what = f"column {j} {mcols[j]['name']!r}"
        datetime_stats(check, larder, what, os.path.join(out, mcols[j]["file"]), df.iloc[:, j],
                       dtype)
        unit = np.datetime_data(np.dtype(dtype))[0]
        every = rng.choice(["1d", "7d"] if unit == "D" else ["1d", "7d", "1h", "90min"])
        t = pd.Series(times(df.iloc[:, j], dtype))
        buckets = t.dt.floor({"1d": "1D", "7d": "7D", "1h": "1h", "90min": "90min"}[every])
        values = numbers[:2]
        check.tags |= set().union(*[cols[k].hazards if cols[k] else set() for k in values])
        groupby(check, larder, what, out, mcols[j]["name"], buckets,
                [(mcols[k]["name"], df.iloc[:, k]) for k in values], every=every,
                label=lambda k: str(pd.Timestamp(k).value))
    return len(df)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("larder")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=10**9)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--hazards", default="default")
    ap.add_argument("--mix", choices=["random", "single"], default="random")
    ap.add_argument("--only", help="indices of the files to make and check, e.g. 3,17")
    ap.add_argument("--out", help="directory for the failing CSVs (default: a new one in /tmp)")
    ap.add_argument("--self-test", action="store_true",
                    help="change one value of each converted file; every such file must fail")
    a = ap.parse_args()
    if a.self_test:
        return self_test(a)
    if a.hazards == "default":
        enabled = list(DEFAULT)
    elif a.hazards == "all":
        enabled = list(HAZARDS)
    else:
        enabled = [h for h in a.hazards.split(",") if h]
        unknown = [h for h in enabled if h not in HAZARDS]
        if unknown:
            ap.error(f"unknown hazards {unknown}; known: {', '.join(HAZARDS)}")
    indices = ([int(i) for i in a.only.split(",")] if a.only else range(a.files))
    deadline = time.monotonic() + a.minutes * 60
    work = tempfile.mkdtemp(prefix="larder-differential-")
    out_dir = a.out or tempfile.mkdtemp(prefix=f"larder-differential-failures-{a.seed}-")
    check = TaggedChecks()
    files = rows = columns = failing = 0
    seen = {}
    try:
        for index in indices:
            if time.monotonic() > deadline:
                break
            text, desc = make(a.seed, index, enabled, a.mix)
            path = os.path.join(work, f"{index}.csv")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            out = os.path.join(work, f"{index}.larder")
            check.file_failures = []
            rows += compare_file(check, a.larder, path, out, desc)
            files += 1
            columns += len(desc["cols"])
            for h in desc["on"] | {"(any)"}:
                s = seen.setdefault(h, [0, 0])
                s[0] += 1
                s[1] += bool(check.file_failures)
            if check.file_failures:
                failing += 1
                report(a, index, path, out_dir, desc, check.file_failures)
            shutil.rmtree(out, ignore_errors=True)
            os.remove(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nseed {a.seed}, hazards {','.join(enabled)}, mix {a.mix}: {files} files, {rows} rows, "
          f"{columns} columns, {check.passed + check.failed} checks, {check.failed} mismatches "
          f"in {failing} files")
    if check.refused:
        print(f"{len(check.refused)} files not compared: pandas refuses them "
              f"(first: {check.refused[0][:120]})")
    print(f"{'hazard':<15}{'files':>7}{'failing':>9}{'checks':>9}{'mismatches':>12}")
    for h in sorted(seen, key=lambda h: (h == "(any)", h)):
        per = check.per.get(h, [0, 0])
        if h == "(any)":
            per = [check.passed + check.failed, check.failed]
        print(f"{h:<15}{seen[h][0]:>7}{seen[h][1]:>9}{per[0]:>9}{per[1]:>12}")
    if failing:
        print(f"failing CSVs and their mismatches: {out_dir}")
    elif not a.out:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 1 if check.failed else 0


def self_test(a):
    """The comparison must see one changed value in each of `--files` files (default 20)."""
    work = tempfile.mkdtemp(prefix="larder-differential-self-test-")
    missed = tested = 0
    try:
        for index in range(min(a.files, 20)):
            text, desc = make(a.seed, index, list(DEFAULT), "random")
            path = os.path.join(work, f"{index}.csv")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            check = TaggedChecks()
            compare_file(check, a.larder, path, os.path.join(work, f"{index}.larder"), desc,
                         self_test=random.Random(index))
            if desc.get("tampered") is None:
                continue
            tested += 1
            if not check.failed:
                missed += 1
                print(f"self-test: file {index}: {desc['tampered']} changed, no mismatch found")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"self-test: {tested} files with one value changed, {tested - missed} caught")
    return 1 if missed or not tested else 0


def report(a, index, path, out_dir, desc, failures):
    """Prints the mismatches of one file with how to reproduce them; keeps the CSV."""
    os.makedirs(out_dir, exist_ok=True)
    kept = os.path.join(out_dir, f"seed{a.seed}-file{index}.csv")
    shutil.copyfile(path, kept)
    hazards = ",".join(sorted(desc["on"])) or "none"
    lines = [f"seed {a.seed} file {index} ({desc['rows']} rows, hazards {hazards}): {kept}",
             f"  reproduce: {sys.argv[0]} {a.larder} --seed {a.seed} --only {index} "
             f"--hazards {a.hazards} --mix {a.mix}"]
    for what, detail, tags in failures:
        row = detail.get("row")
        at = f" (line {desc['line_of'][row]})" if row is not None and row < len(
            desc["line_of"]) else ""
        lines.append(f"  MISMATCH [{','.join(tags)}] {what}{at}")
    print("\n".join(lines))
    with open(kept[:-4] + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
