"""Checks that pyarrow, polars and DuckDB read larder's Arrow layout of a dataset through the
Arrow C stream interface (`__arrow_c_stream__`), with the values and missing values that
pd.read_csv gives for the source CSV.

    check_arrow.py DATASET CSV EXPECTED_TYPES.json [BATCH_ROWS]

EXPECTED_TYPES.json maps each column to the Arrow type larder's Rust export gives it (pyarrow's
spelling, written by tests/it/arrow.rs). Without a Python binding, the stream is built here over
the dataset's files exactly as larder lays it out (docs/format.md, "Arrow"): numbers, date-times,
categorical codes and string offsets/bytes as buffers over np.memmap (no copy), validity packed
to bits. The Python package reuses `check(source, ...)` with its own Dataset as the source.

Prints "N passed, M failed" and exits non-zero on any failure.
"""

import datetime as dt
import json
import math
import re
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa


def _bitmap(valid):
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _array(d: Path, col: dict, rows: int, lo: int, hi: int, dictionary):
    """Rows lo..hi of one column in larder's Arrow layout."""
    n = hi - lo
    valid = None
    if "valid" in col:
        valid = np.load(d / col["valid"], mmap_mode="r")[lo:hi]
    nulls = None if valid is None else _bitmap(valid)
    null_count = 0 if valid is None else int(n - valid.sum())
    if col["dtype"] == "str":
        offsets = np.load(d / col["offsets"], mmap_mode="r")[lo : hi + 1]
        data = np.load(d / col["file"], mmap_mode="r")
        return pa.Array.from_buffers(
            pa.large_string(), n, [nulls, pa.py_buffer(offsets), pa.py_buffer(data)], null_count
        )
    values = np.load(d / col["file"], mmap_mode="r")[:rows][lo:hi]
    if dictionary is not None:
        keys = pa.Array.from_buffers(
            pa.from_numpy_dtype(values.dtype), n, [nulls, pa.py_buffer(values)], null_count
        )
        return pa.DictionaryArray.from_arrays(keys, dictionary)
    if values.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), n, [nulls, _bitmap(values)], null_count)
    if values.dtype.kind == "M":
        unit = np.datetime_data(values.dtype)[0]
        ints = values.view(np.int64)
        if unit == "D":
            return pa.Array.from_buffers(
                pa.date32(), n, [nulls, pa.py_buffer(ints.astype(np.int32))], null_count
            )
        if unit in ("h", "m"):
            ints = ints * (3600 if unit == "h" else 60)
            unit = "s"
        # Zoned (UTC) when the column was read with a format that reads an offset or a zone,
        # naive otherwise (larder's rule, `ManifestColumn::zoned`).
        fmt = col.get("format") or ""
        zoned = re.search(r"%[-_0^#0-9:]*[zQ]", fmt.replace("%%", "")) is not None
        return pa.Array.from_buffers(
            pa.timestamp(unit, tz="UTC" if zoned else None), n, [nulls, pa.py_buffer(ints)], null_count
        )
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), n, [nulls, pa.py_buffer(values)], null_count
    )


class FilesSource:
    """A dataset directory as an Arrow C stream in batches of `batch_rows` rows."""

    def __init__(self, d: Path, batch_rows: int):
        self.d, self.batch_rows = d, batch_rows
        self.manifest = json.loads((d / "manifest.json").read_text())

    def _dictionary(self, col):
        if "categories" in col:
            return pa.array(col["categories"], type=pa.large_string())
        if "dictionary" in col:
            offsets = np.load(self.d / col["dictionary"]["offsets"], mmap_mode="r")
            data = np.load(self.d / col["dictionary"]["file"], mmap_mode="r")
            return pa.Array.from_buffers(
                pa.large_string(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            )
        return None

    def __arrow_c_stream__(self, requested_schema=None):
        rows, cols = self.manifest["rows"], self.manifest["columns"]
        dicts = [self._dictionary(c) for c in cols]
        batches = []
        for lo in range(0, rows, self.batch_rows):
            hi = min(rows, lo + self.batch_rows)
            arrays = [_array(self.d, c, rows, lo, hi, dicts[i]) for i, c in enumerate(cols)]
            batches.append(pa.record_batch(arrays, names=[c["name"] for c in cols]))
        schema = batches[0].schema if batches else None
        return pa.RecordBatchReader.from_batches(schema, batches).__arrow_c_stream__(requested_schema)


def _norm(v):
    """One comparable value: None for missing (and NaN), seconds for instants, ISO for dates."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return round(v.timestamp(), 6)
    if isinstance(v, pd.Timestamp):
        return round(v.timestamp(), 6)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return str(v)


def _expected(csv: Path, manifest: dict):
    """Each column as pd.read_csv reads it, with larder's types applied to the text."""
    df = pd.read_csv(csv, dtype=str, keep_default_na=True)
    out = {}
    for col in manifest["columns"]:
        s = df[col.get("header", col["name"])]
        dtype = col["dtype"]
        if dtype.startswith("<M8[D]"):
            vals = [None if pd.isna(x) else pd.Timestamp(x).date() for x in s]
        elif "M8" in dtype:
            vals = list(pd.to_datetime(s, utc=True, format="ISO8601"))
        elif dtype == "|b1":
            vals = [None if pd.isna(x) else x.strip().lower() == "true" for x in s]
        elif "categories" in col or "dictionary" in col or dtype == "str":
            vals = [None if pd.isna(x) else x for x in s]
        else:
            vals = list(pd.to_numeric(s))
        out[col["name"]] = [_norm(v) for v in vals]
    return out


def check(source, csv: Path, manifest: dict, expected_types: dict):
    """Runs every consumer on `source` (anything with `__arrow_c_stream__`); returns the failures."""
    want = _expected(csv, manifest)
    failures, passed = [], 0

    def same(who, name, got):
        nonlocal passed
        got = [_norm(v) for v in got]
        if got == want[name]:
            passed += 1
        else:
            failures.append(f"{who}: column {name!r}: {got[:8]} != {want[name][:8]}")

    table = pa.table(source)
    for name, t in expected_types.items():
        got_t = str(table.schema.field(name).type)
        if got_t == t:
            passed += 1
        else:
            failures.append(f"pyarrow: column {name!r} is {got_t}, larder exports {t}")
        same("pyarrow", name, table.column(name).to_pylist())

    frame = pl.DataFrame(source)
    for name in expected_types:
        same("polars", name, frame[name].to_list())

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    src = source  # noqa: F841 (DuckDB finds it by name)
    # Instants as seconds: fetching TIMESTAMPTZ values as Python objects needs pytz.
    exprs = [
        f'epoch_us("{n}") / 1e6' if t.startswith("timestamp") else f'"{n}"'
        for n, t in expected_types.items()
    ]
    rows = con.sql(f"SELECT {', '.join(exprs)} FROM src").fetchall()
    for i, name in enumerate(expected_types):
        same("duckdb", name, [r[i] for r in rows])
    # A group-by on each categorical, as a data person would run it.
    for col in manifest["columns"]:
        if "categories" in col or "dictionary" in col:
            got = dict(con.sql(f'SELECT "{col["name"]}", count(*) FROM src GROUP BY 1').fetchall())
            counts = pd.Series(want[col["name"]], dtype=object).value_counts(dropna=False)
            exp = {(None if pd.isna(k) else k): int(v) for k, v in counts.items()}
            if got == exp:
                passed += 1
            else:
                failures.append(f"duckdb group by {col['name']!r}: {got} != {exp}")
    return passed, failures


def main():
    d, csv, types = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())
    batch_rows = int(sys.argv[4]) if len(sys.argv) > 4 else 65536
    source = FilesSource(d, batch_rows)
    passed, failures = check(source, csv, source.manifest, types)
    for f in failures:
        print(f)
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
