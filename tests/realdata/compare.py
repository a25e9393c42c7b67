"""What the real-data checks and the differential test share: reading a column larder wrote
and comparing it, its `larder stats` and a `larder groupby` with what pandas reads.

The rules (each a documented difference between larder and pandas, normalised here):

* columns are matched by position; names are checked by the callers;
* a pandas integer column is a larder integer column, compared exactly (as Python ints); a
  pandas float column is a larder float column, or an integer or bool column with a validity
  file (pandas holds a missing integer as NaN, larder keeps the integers and marks the row
  missing; docs/cli.md "Values"), compared as float64;
* a pandas bool column (or an object column of bools and NaN) is a larder `|b1` column;
* a pandas string column of decimal integers and missing-value text is a larder `<u8` column
  with a validity file: pandas reads integers above 2^63-1 as uint64 only when none is
  missing, and otherwise keeps the column's text, its missing fields as what they held (`''`
  for an empty field or a short row's absent one, `NA`, …), where larder stores uint64 and
  marks those rows missing (pandas' `dtype="UInt64"` reads them so); compared exactly as Python
  ints, the non-digit text as missing;
* a pandas string column is a larder `cat` or `str` column (Arrow's large-string layout), or a
  `datetime64` column when it holds ISO 8601 date-times (larder infers those, pandas leaves
  them strings): then compared with `pd.to_datetime(format="ISO8601", utc=True)`, and a value
  pandas' to_datetime reads as NaT (such as `NaT`) is missing;
* missing means NaN in a float column, `false` in the validity file (`valid` in the manifest)
  of any other, NaT in a datetime column;
* floats are compared exactly; sums and means to 1e-12 of the sum of magnitudes (larder's
  sum is compensated, pandas' pairwise); quantiles to 1e-12 relative, against
  np.nanquantile itself (NaN where its interpolation subtracts two equal infinities).
"""
import json
import math
import os
import subprocess
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa


class Checks:
    """Counts checks; prints and keeps each failure. `check(ok, what, **detail)` returns ok."""

    def __init__(self, quiet=False):
        self.passed = self.failed = 0
        self.failures = []
        self.quiet = quiet

    def __call__(self, ok, what, **detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append((what, detail))
            if not self.quiet:
                print("FAIL", what)
        return ok


def strings(out, file, offsets):
    """The strings of a string column or a large dictionary (Arrow's large-string layout)."""
    data = np.load(os.path.join(out, file), mmap_mode="r")
    offs = np.load(os.path.join(out, offsets), mmap_mode="r")
    arr = pa.LargeStringArray.from_buffers(len(offs) - 1, pa.py_buffer(np.ascontiguousarray(offs)),
                                           pa.py_buffer(np.ascontiguousarray(data)))
    arr.validate(full=True)
    return np.array(arr.to_pylist(), dtype=object)


def kind_of(c):
    """A manifest column's kind: cat, str, M8, or the numpy kind letter (b, i, u, f)."""
    dtype = c["dtype"]
    return ("cat" if "categories" in c or "dictionary" in c else
            "str" if dtype == "str" else "M8" if dtype[1:3] == "M8" else dtype[1])


def load(out, c):
    """(values, missing) of a manifest column; a categorical column's values are its labels."""
    kind = kind_of(c)
    if kind == "str":
        values = strings(out, c["file"], c["offsets"])
    else:
        values = np.asarray(np.load(os.path.join(out, c["file"]), mmap_mode="r"))
    if kind == "cat":
        cats = (np.array(c["categories"], dtype=object) if "categories" in c else
                strings(out, c["dictionary"]["file"], c["dictionary"]["offsets"]))
        codes = values.astype(np.int64)
        if len(codes) and (codes.min() < 0 or codes.max() >= max(len(cats), 1)):
            raise ValueError(f"{c['name']}: a code outside its {len(cats)} categories")
        values = cats[codes] if len(cats) else np.full(len(codes), "", dtype=object)
    if "valid" in c:
        missing = ~np.load(os.path.join(out, c["valid"]))
    elif kind == "f":
        missing = np.isnan(values)
    elif kind == "M8":
        missing = np.isnat(values)
    else:
        missing = np.zeros(len(values), dtype=bool)
    return values, missing


def label_of(key):
    """A group key as text; an integer key pandas holds as a float (NaN elsewhere) as an int."""
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        key = int(key)
    if isinstance(key, np.integer):
        key = int(key)
    return str(key)


def close(a, b, rel=1e-12):
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=rel,
                                                                       abs_tol=1e-300)


def near(v, w, scale):
    """v equals w, both NaN, or differs by at most 1e-12 of `scale` (a sum of magnitudes)."""
    v, w = float(v), float(w)
    if (math.isnan(v) and math.isnan(w)) or v == w:
        return True
    return math.isfinite(v) and math.isfinite(w) and abs(v - w) <= 1e-12 * scale + 1e-300


def number(v):
    """A number of larder's JSON: NaN and the infinities are strings there; null is NaN."""
    if v is None:
        return float("nan")
    if isinstance(v, str):
        return float(v.replace("Infinity", "inf"))
    return v


def is_bool_column(col):
    return pd.api.types.is_bool_dtype(col) or (col.dtype == object and len(col.dropna()) > 0
                                               and set(map(type, col.dropna())) == {bool})


def first(mask):
    """The index of the first true element of `mask`, or None."""
    hit = np.flatnonzero(mask)
    return int(hit[0]) if len(hit) else None


def column(check, what, out, c, col):
    """Compares one manifest column with pandas' column `col`; returns its kind (kind_of)."""
    kind = kind_of(c)
    try:
        values, ours = load(out, c)
    except (OSError, ValueError) as e:
        check(False, f"{what}: unreadable: {e}")
        return kind
    if not check(len(values) == len(col), f"{what}: {len(values)} rows, pandas {len(col)}"):
        return kind
    if len(col) == 0:  # a header without records: any kind, no values
        return kind
    if c["dtype"] == "<u8" and "valid" in c and pd.api.types.is_string_dtype(col):
        col = uint64_text(col)
    times = None
    if kind == "M8" and not pd.api.types.is_numeric_dtype(col) and not is_bool_column(col):
        times = pd.to_datetime(col, format="ISO8601", utc=True, errors="coerce")
        theirs = times.isna().to_numpy()
    else:
        theirs = col.isna().to_numpy()
    row = first(ours != theirs)
    if not check(row is None, f"{what}: missing in {int(ours.sum())} rows, pandas "
                 f"{int(theirs.sum())}; first differing row {row}: larder "
                 f"{'missing' if row is not None and ours[row] else show(values, row)}, pandas "
                 f"{show(col.to_numpy(dtype=object), row)}", row=row):
        return kind
    present = ~theirs
    rows = np.flatnonzero(present)
    if is_bool_column(col):
        if check(kind == "b", f"{what}: pandas reads bools, larder {c['dtype']}"):
            diff(check, what, rows, values[present], col.to_numpy(dtype=object)[present]
                 .astype(bool))
    elif pd.api.types.is_numeric_dtype(col):
        nullable = kind in "iub" and "valid" in c
        if col.dtype.kind in "iu":
            if check(kind in "iu", f"{what}: pandas reads integers ({col.dtype}), larder "
                     f"{c['dtype']}"):
                a, b = values[present], col.to_numpy()[present]
                if a.dtype != b.dtype:  # exact, whatever the two integer types
                    a, b = a.astype(object), b.astype(object)
                diff(check, what, rows, a, b)
        elif check(kind == "f" or nullable, f"{what}: pandas reads floats ({col.dtype}), larder "
                   f"{c['dtype']}{' without missing values' if kind in 'iub' else ''}"):
            diff(check, what, rows, values[present].astype(np.float64),
                 col.to_numpy(dtype=np.float64)[present])
    elif c["dtype"] == "<u8" and col.dtype == object:  # from uint64_text
        diff(check, what, rows, values[present].astype(object), col.to_numpy()[present])
    elif kind == "M8":
        b = times.dt.tz_localize(None).to_numpy().astype(values.dtype)[present]
        diff(check, what, rows, values[present], b)
    elif check(kind in ("cat", "str"), f"{what}: pandas reads strings, larder {c['dtype']}"):
        diff(check, what, rows, values[present], col.to_numpy(dtype=object)[present])
    return kind


def uint64_text(col):
    """pandas' text of a uint64 column with missing values (see the rules above) as Python ints,
    None where a field held no digits (`''`, `NA`, NaN); `col` itself if any value is other text."""
    def value(v):
        if isinstance(v, str) and v.isascii() and v.isdigit():
            return int(v)
        return None
    out = pd.Series([value(v) for v in col], dtype=object, index=col.index)
    text = col.dropna()
    if any(isinstance(v, str) and v.strip() not in NA_TEXT and value(v) is None for v in text):
        return col
    return out


# pandas' default missing-value text (`read_csv` `na_values`), and the empty field.
NA_TEXT = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
           "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}


def show(values, row):
    return "" if row is None else repr(values[row])


def diff(check, what, rows, a, b):
    """One check that `a` equals `b` element by element; the first difference is reported."""
    bad = np.flatnonzero(np.asarray(a != b, dtype=bool))
    i = int(bad[0]) if len(bad) else None
    check(i is None, f"{what}: {len(bad)} values differ; first at row {rows[i] if len(bad) else ''}"
          f": larder {show(a, i)}, pandas {show(b, i)}", row=None if i is None else int(rows[i]))


def reference(col, quantiles=()):
    """pandas' statistics of a number column: exact sums for integer columns."""
    arr = col.to_numpy()
    if col.dtype.kind in "iu":
        xs = [int(x) for x in arr]
        present = xs
        total = sum(xs)
        scale = sum(abs(x) for x in xs)
        mean = float(Fraction(total, len(xs))) if xs else float("nan")
    else:
        arr = arr.astype(np.float64)
        present = arr[~np.isnan(arr)]
        finite = present[np.isfinite(present)]
        with np.errstate(invalid="ignore"):  # inf + -inf: NaN, as in larder
            total = float(np.sum(present)) if len(finite) < len(present) else math.fsum(present)
        scale = float(np.sum(np.abs(finite)))
        mean = total / len(present) if len(present) else float("nan")
    want = {"count": len(present), "nulls": int(col.isna().sum()), "sum": total, "mean": mean,
            "min": min(present) if len(present) else None,
            "max": max(present) if len(present) else None, "scale": scale}
    if quantiles:
        xs = np.sort(np.asarray(present, dtype=np.float64))
        want["quantiles"] = [quantile(xs, q) for q in quantiles]
    return want


def quantile(xs, q):
    """np.nanquantile(xs, q) (numpy's `linear` method) of values without NaN: numpy itself,
    NaN where its interpolation subtracts two equal infinities included."""
    if not len(xs):
        return float("nan")
    with np.errstate(invalid="ignore"):
        return float(np.quantile(np.asarray(xs, dtype=np.float64), float(q)))


def stats(check, larder, what, path, col, quantiles=(), std=False):
    """`larder stats PATH --json` (with `--quantile`) against pandas' column `col`."""
    cmd = [larder, "stats", path, "--json"]
    if quantiles:
        cmd += ["--quantile", ",".join(map(str, quantiles))]
    r = subprocess.run(cmd, capture_output=True)
    if not check(r.returncode == 0, f"{what}: stats exited {r.returncode}: "
                 f"{r.stderr.decode(errors='replace').strip()[:300]}"):
        return
    s = json.loads(r.stdout)
    want = reference(col, quantiles)
    nulls = s.get("null_count", 0) + s.get("nan_count", 0)
    check(s["count"] == want["count"] and nulls == want["nulls"],
          f"{what}: stats count {s['count']}, {s.get('nan_count', 0)} NaN + "
          f"{s.get('null_count', 0)} missing; pandas {want['count']}, {want['nulls']} missing")
    exact = isinstance(want["sum"], int)
    n = max(want["count"], 1)
    for k, scale in (("sum", want["scale"]), ("mean", want["scale"] / n)):
        v = number(s[k])
        ok = v == want[k] if exact and k == "sum" else near(v, want[k], scale)
        check(ok, f"{what}: stats {k}: larder {s[k]}, pandas {want[k]}")
    for k in ("min", "max"):
        v, w = s[k], want[k]
        ok = (v is None and w is None) or (v is not None and w is not None and (
            number(v) == w if exact else close(number(v), w, rel=0)))
        check(ok, f"{what}: stats {k}: larder {v}, pandas {w}")
    if std:
        w = col.astype(np.float64).std(ddof=0)
        check(close(number(s["std"]), w), f"{what}: stats std: larder {s['std']}, pandas {w}")
    for q, got, w in zip(quantiles, s.get("quantiles", []), want.get("quantiles", [])):
        v = number(got["value"])
        check(close(v, w), f"{what}: stats quantile {q}: larder {got['value']} (exact "
              f"{got.get('exact')}), np.nanquantile {w}")


def times(col, dtype):
    """A pandas column of ISO 8601 strings as larder stores it: datetime64 of `dtype`, UTC."""
    t = pd.to_datetime(col, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
    return t.to_numpy().astype(dtype)


def datetime_stats(check, larder, what, path, col, dtype):
    """`larder stats PATH --json` of a datetime64 column against pandas' to_datetime of `col`:
    count, missing count, min, max and the mean truncated toward zero to the unit."""
    r = subprocess.run([larder, "stats", path, "--json"], capture_output=True)
    if not check(r.returncode == 0, f"{what}: stats exited {r.returncode}: "
                 f"{r.stderr.decode(errors='replace').strip()[:300]}"):
        return
    s = json.loads(r.stdout)
    t = times(col, dtype)
    ints = [int(x) for x in t[~np.isnat(t)].astype(np.int64)]
    nulls = s.get("null_count", 0) + s.get("nat_count", 0)
    check(s["count"] == len(ints) and nulls == len(t) - len(ints),
          f"{what}: stats count {s['count']}, {nulls} missing; pandas {len(ints)}, "
          f"{len(t) - len(ints)} missing")
    if not ints:
        return
    total = sum(ints)
    mean = abs(total) // len(ints) * (1 if total >= 0 else -1)
    for k, w in (("min", min(ints)), ("max", max(ints)), ("mean", mean)):
        v = s.get(k)
        got = None if v is None else int(np.datetime64(v).astype(dtype).astype(np.int64))
        check(got == w, f"{what}: stats {k}: larder {v}, pandas "
              f"{np.datetime64(w, np.datetime_data(np.dtype(dtype))[0])}")


def groupby(check, larder, what, out, key, keycol, values, every=None, label=label_of):
    """`larder groupby OUT --by KEY` with count, count/sum/mean/min/max of each (name, pandas
    column) in `values`, against pandas' groups of `keycol` (dropna=True). With `every`, the
    key is a datetime64 column cut into buckets of that width; `keycol` then holds pandas'
    bucket starts, and `label` turns both sides' keys into one spelling."""
    aggs = ["count"]
    for name, _ in values:
        # A name holding a comma (or starting with a quote) is quoted as in CSV, as --agg takes it.
        q = f'"{name.replace(chr(34), chr(34) * 2)}"' if "," in name or name.startswith('"') else name
        aggs += [f"{a}:{q}" for a in ("count", "sum", "mean", "min", "max")]
    r = subprocess.run([larder, "groupby", out, f"--by={key}", f"--agg={','.join(aggs)}",
                        "--json"] + ([f"--every={every}"] if every else []), capture_output=True)
    if not check(r.returncode == 0, f"{what}: groupby {key!r}: exit {r.returncode}: "
                 f"{r.stderr.decode(errors='replace').strip()[:200]}"):
        return
    r = json.loads(r.stdout)
    groups = keycol.groupby(keycol, dropna=True, sort=False).indices
    labels = {label(k): idx for k, idx in groups.items()}
    keys = [label(k) for k in r["keys"]]
    if not check(sorted(keys) == sorted(labels), f"{what}: groupby {key!r}: {len(keys)} keys "
                 f"{keys[:5]}, pandas {len(labels)} {sorted(labels)[:5]}"):
        return
    want = {"count": {k: len(idx) for k, idx in labels.items()}}
    scales = {}
    for name, col in values:
        exact = col.dtype.kind in "iu"
        arr = col.to_numpy() if exact else col.to_numpy(dtype=np.float64)
        for k, idx in labels.items():
            xs = [int(x) for x in arr[idx]] if exact else arr[idx][~np.isnan(arr[idx])]
            finite = [x for x in xs if exact or math.isfinite(x)]
            with np.errstate(invalid="ignore"):
                total = (sum(xs) if exact else math.fsum(xs) if len(finite) == len(xs)
                         else float(np.sum(xs)))
            nan = float("nan")
            scale = float(sum(abs(x) for x in finite))
            for agg, w in (("count", len(xs)), ("sum", total),
                           ("mean", (float(Fraction(total, len(xs))) if exact else
                                     total / len(xs)) if len(xs) else nan),
                           ("min", min(xs) if len(xs) else nan),
                           ("max", max(xs) if len(xs) else nan)):
                want.setdefault(f"{agg}:{name}", {})[k] = w
                scales[(f"{agg}:{name}", k)] = scale / max(len(xs), 1) if agg == "mean" else scale
    for agg, got in r["aggregates"].items():
        bad = []
        for k, v in zip(keys, got):
            w = want[agg][k]
            v = number(v)
            if isinstance(w, int) and isinstance(v, int):
                ok = v == w
            else:
                ok = near(v, w, scales.get((agg, k), 0.0))
            if not ok:
                bad.append((k, v, w))
        check(not bad, f"{what}: groupby {key!r} {agg}: {len(bad)} groups differ, first "
              f"(key, larder, pandas) {bad[:1]}")
