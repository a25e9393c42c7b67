"""The Arrow C stream of a Dataset is made once: strings and codes checked and validity packed
on the first export, every later one (a second DuckDB query, pa.table, to_arrow, a column
choice) shares those buffers; requested_schema is applied."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import larder
from conftest import rss_mib


@pytest.fixture
def ds(log_csv: Path, tmp_path: Path) -> larder.Dataset:
    larder.convert(log_csv, tmp_path / "log", types={"note": "str"})
    return larder.open_dataset(tmp_path / "log")


def validity_address(t: pa.Table, column: str) -> int:
    return t.column(column).chunk(0).buffers()[0].address


def test_exports_share_the_checked_buffers(ds: larder.Dataset) -> None:
    first, second = pa.table(ds), pa.table(ds)
    assert first.equals(second)  # missing floats are null, not NaN (NaN != NaN)
    # The packed validity (the only buffer larder makes) is made once, not per stream.
    for name in ["id", "note", "when", "ok", "latency"]:
        assert first.column(name).null_count > 0, name
        assert validity_address(first, name) == validity_address(second, name), name
    assert validity_address(ds.to_arrow(), "id") == validity_address(first, "id")
    picked = ds.to_arrow(columns=["note", "id"])
    assert picked.column_names == ["note", "id"]
    assert validity_address(picked, "note") == validity_address(first, "note")
    with pytest.raises(KeyError, match="no column 'nope'"):
        ds.to_arrow(columns=["nope"])
    # A new Dataset of the same directory makes its own.
    other = pa.table(larder.open_dataset(ds.path))
    assert other.column("note").equals(first.column("note"))
    assert validity_address(other, "id") != validity_address(first, "id")


def test_the_stream_applies_a_requested_schema(ds: larder.Dataset) -> None:
    want = pa.schema([f.with_type(pa.float64()) if f.name == "id" else f for f in ds.schema])
    got = pa.RecordBatchReader.from_stream(ds, schema=want).read_all()
    assert got.schema.field("id").type == pa.float64()
    assert got.column("id").null_count == 12
    assert got.column("id").to_pylist()[:3] == [0.0, 1.0, 2.0]
    # Another variant: strings as (32-bit offset) string instead of large_string.
    want = pa.schema([f.with_type(pa.string()) if f.name == "note" else f for f in ds.schema])
    got = pa.RecordBatchReader.from_stream(ds, schema=want).read_all()
    assert got.schema.field("note").type == pa.string()
    assert got.column("note").null_count == 40


def test_repeated_duckdb_queries_agree(ds: larder.Dataset) -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    sql = "select region::varchar, count(*), count(id), sum(id) from ds group by 1 order by 1"
    first = con.sql(sql).fetchall()
    assert con.sql(sql).fetchall() == first
    pdf = ds.to_pandas()
    ref = pdf.groupby("region", observed=True)["id"].agg(["size", "count", "sum"])
    want = {r: (int(a), int(b), int(c)) for r, (a, b, c) in ref.iterrows()}
    assert {r: (n, k, s) for r, n, k, s in first} == want


def test_the_table_of_many_batches_is_made_column_by_column_and_lines_up(tmp_path: Path) -> None:
    # More rows than one batch: the columns are exported side by side and joined; the table
    # equals larder's single stream, chunk for chunk.
    rows = 3 * larder._dataset.BATCH_ROWS + 5
    lines = ["k,n,s"] + [
        f"{'ab'[i % 2]},{'' if i % 7 == 0 else i},{'' if i % 5 == 0 else 's' * (i % 4)}"
        for i in range(rows)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    larder.convert(tmp_path / "t.csv", tmp_path / "t", types={"s": "str"})
    ds = larder.open_dataset(tmp_path / "t")
    table = ds.to_arrow()
    serial = ds.to_reader().read_all()
    assert table.schema.equals(serial.schema, check_metadata=True)
    assert table.equals(serial)
    batches = list(pa.RecordBatchReader.from_stream(ds))
    assert [b.num_rows for b in batches] == [larder._dataset.BATCH_ROWS] * 3 + [5]
    assert table.column("n").null_count == len(range(0, rows, 7))
    # an empty string is missing too, as pd.read_csv reads it
    assert table.column("s").null_count == sum(1 for i in range(rows) if i % 5 == 0 or i % 4 == 0)


def test_the_export_does_not_keep_what_it_checked_in_rss(tmp_path: Path) -> None:
    """4M rows: 32 MiB of string offsets and 8 MiB of bytes, read to check them, and a 4 MiB
    validity file, read to pack it. Their pages stayed mapped into the process (+44 MiB); now
    the export releases them once checked, and keeps the packed validity (0.5 MiB)."""
    import json

    import numpy as np

    rows = 4 << 20
    out = tmp_path / "big"
    out.mkdir()
    np.save(out / "s.npy", np.frombuffer(b"xy" * rows, np.uint8))
    np.save(out / "s.offsets.npy", np.arange(rows + 1, dtype="<i8") * 2)
    np.save(out / "n.npy", np.arange(rows, dtype="<i8"))
    valid = np.ones(rows, bool)
    valid[7] = False
    np.save(out / "n.valid.npy", valid)
    cols = [{"name": "s", "file": "s.npy", "dtype": "str", "offsets": "s.offsets.npy"},
            {"name": "n", "file": "n.npy", "dtype": "<i8", "valid": "n.valid.npy"}]
    (out / "manifest.json").write_text(json.dumps({"columns": cols, "rows": rows, "rows_read": rows, "version": 1}))
    larder.open_dataset(out).to_reader(columns=["n"]).read_all()  # imports and set-up
    ds = larder.open_dataset(out)
    before = rss_mib()
    table = ds.to_reader().read_all()
    grown = rss_mib() - before
    assert grown < 12, f"the export grew RSS by {grown:.1f} MiB"
    assert table.num_rows == rows and table.column("n").null_count == 1
    assert table.column("s")[rows - 1].as_py() == "xy"  # read again from the page cache
