"""Datasets: columns zero-copy, pandas with read_csv's missing values, Arrow (pa.table,
polars, DuckDB through the C stream interface), dask partitions, info/head/dtypes."""

from __future__ import annotations

import gc
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import larder
from conftest import mapped_file, rss_mib


@pytest.fixture
def ds(log_csv: Path, tmp_path: Path) -> larder.Dataset:
    summary = larder.convert(log_csv, tmp_path / "log", types={"note": "str"})
    assert summary["rows"] == 200 and summary["rejected"] == 0 and summary["columns"] == 6
    return larder.open_dataset(tmp_path / "log")


def same(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> bool:
    """Equal arrays, NaN equal to NaN (pyarrow's equals says NaN != NaN)."""
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    if isinstance(b, pa.ChunkedArray):
        b = b.combine_chunks()
    if pa.types.is_floating(a.type) and a.type == b.type:
        na, nb = a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False)
        return bool(np.array_equal(na, nb, equal_nan=True)) and a.null_count == b.null_count
    return bool(a.equals(b))


def same_tables(a: pa.Table, b: pa.Table) -> bool:
    return a.schema.equals(b.schema) and all(same(a[n], b[n]) for n in a.column_names)


def inside(address: int, file: Path) -> bool:
    """True when `address` lies in a mapping of `file` (zero-copy: not a copy on the heap)."""
    return mapped_file(address) == str(file.resolve())


def test_shape_and_columns(ds: larder.Dataset) -> None:
    assert len(ds) == 200
    assert ds.columns == ["id", "region", "note", "when", "latency", "ok"]
    kinds = {c: ds[c].kind for c in ds.columns}
    assert kinds == {
        "id": "number",
        "region": "categorical",
        "note": "string",
        "when": "datetime",
        "latency": "number",
        "ok": "bool",
    }
    assert list(ds.dtypes.astype(str)) == ["Int64", "category", "string", "datetime64[s]", "float64", "boolean"]
    assert ds.schema.names == ds.columns
    assert ds["region"].categories == ["eu", "us", "ap"]


def test_column_values_are_zero_copy_and_outlive_the_dataset(ds: larder.Dataset) -> None:
    col = ds["id"]
    values, validity = col.values, col.validity
    assert validity is not None and not validity.flags.writeable and not values.flags.writeable
    assert inside(values.__array_interface__["data"][0], Path(ds.path) / "id.npy")
    assert inside(validity.__array_interface__["data"][0], Path(ds.path) / "id.valid.npy")
    assert int((~validity).sum()) == 12  # rows 5, 22, 39, ... (every 17th from 5)
    path = ds.path
    del ds, col
    gc.collect()
    ref = pd.read_csv(Path(path).parent / "log.csv")["id"]
    np.testing.assert_array_equal(values[validity], ref.dropna().astype(np.int64))


def test_to_pandas_matches_read_csv(ds: larder.Dataset, log_csv: Path) -> None:
    df = ds.to_pandas()
    ref = pd.read_csv(log_csv, keep_default_na=True)
    assert list(df.columns) == list(ref.columns)
    for c in df.columns:
        np.testing.assert_array_equal(df[c].isna().to_numpy(), ref[c].isna().to_numpy(), err_msg=c)
    present = ref["id"].notna()
    np.testing.assert_array_equal(df["id"][present].astype("int64"), ref["id"][present].astype("int64"))
    assert df["id"].dtype == "Int64" and df["ok"].dtype == "boolean"
    np.testing.assert_array_equal(df["latency"].to_numpy(), ref["latency"].to_numpy())
    assert list(df["region"].astype(object)) == list(ref["region"])
    assert list(df["note"].dropna()) == list(ref["note"].dropna())
    when = pd.to_datetime(ref["when"], format="ISO8601")
    np.testing.assert_array_equal(df["when"].to_numpy(), when.to_numpy().astype("M8[s]"))
    assert df["ok"].dropna().tolist() == ref["ok"].dropna().astype(bool).tolist()
    # numeric values without missing ones are the mapping itself
    lat = df["latency"].to_numpy()
    assert inside(lat.__array_interface__["data"][0], Path(ds.path) / "latency.npy")
    ids = df["id"].array._data  # the Int64 column's values: the mapping, with a mask beside
    assert inside(ids.__array_interface__["data"][0], Path(ds.path) / "id.npy")


def test_to_pandas_pyarrow_backend_and_column_choice(ds: larder.Dataset) -> None:
    df = ds.to_pandas(dtype_backend="pyarrow", columns=["note", "id"])
    assert list(df.columns) == ["note", "id"]
    assert str(df["id"].dtype) == "int64[pyarrow]"
    assert df["id"].isna().sum() == 12 and df["note"].isna().sum() == 40
    with pytest.raises(ValueError, match="dtype_backend"):
        ds.to_pandas(dtype_backend="numpy")
    with pytest.raises(KeyError):
        ds.to_pandas(columns=["nope"])


def test_arrow_buffers_point_into_the_mapping(ds: larder.Dataset) -> None:
    t = pa.table(ds)
    assert t.num_rows == 200 and t.column_names == ds.columns
    assert t.schema.equals(ds.schema, check_metadata=True)
    assert t.schema.field("region").metadata[b"larder.kind"] == b"categorical"
    note = t.column("note").chunk(0)
    assert note.type == pa.large_string()
    bufs = note.buffers()
    assert inside(bufs[1].address, Path(ds.path) / "note.offsets.npy")
    assert inside(bufs[2].address, Path(ds.path) / "note.npy")
    region = t.column("region").chunk(0)
    assert pa.types.is_dictionary(region.type)
    assert inside(region.indices.buffers()[1].address, Path(ds.path) / "region.npy")
    assert inside(t.column("id").chunk(0).buffers()[1].address, Path(ds.path) / "id.npy")
    assert inside(t.column("when").chunk(0).buffers()[1].address, Path(ds.path) / "when.npy")
    assert inside(t.column("latency").chunk(0).buffers()[1].address, Path(ds.path) / "latency.npy")
    assert same_tables(t, ds.to_arrow())
    assert t.column("when").null_count == ds.to_pandas()["when"].isna().sum()
    assert t.column("id").null_count == 12 and t.column("note").null_count == 40
    # The Python column export (used for row ranges) gives the same arrays.
    for name in ds.columns:
        assert same(ds[name].to_arrow(), t.column(name)), name


def test_the_stream_is_fresh_per_call_and_batched(ds: larder.Dataset) -> None:
    batches = list(ds.batches(batch_rows=64))
    assert [b.num_rows for b in batches] == [64, 64, 64, 8]
    assert same_tables(pa.Table.from_batches(batches), ds.to_arrow())
    a, b = pa.RecordBatchReader.from_stream(ds), pa.RecordBatchReader.from_stream(ds)
    assert same_tables(a.read_all(), b.read_all())
    assert pa.schema(ds) == ds.schema
    assert ds.to_reader(columns=["ok", "id"]).schema.names == ["ok", "id"]
    with pytest.raises(ValueError, match="batch_rows"):
        list(ds.batches(0))
    # A capsule nobody consumes is released when it is collected (no leak, no crash).
    for _ in range(100):
        ds.__arrow_c_stream__()
    gc.collect()


def test_polars_and_duckdb_read_it(ds: larder.Dataset) -> None:
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    frame = pl.DataFrame(ds)
    assert frame.shape == (200, 6)
    assert frame["id"].null_count() == 12
    assert ds.to_polars().equals(frame)
    pdf = ds.to_pandas()
    ref = pdf.groupby("region", observed=True)["id"].agg(["sum", "count"])
    rows = duckdb.sql("select region, sum(id), count(id) from ds group by region").fetchall()
    assert len(rows) == 3
    for region, total, count in rows:
        assert (total, count) == (ref.loc[region, "sum"], ref.loc[region, "count"])
    # A missing float is NaN in larder's files (as pd.read_csv reads it) and stays NaN in
    # Arrow: DuckDB's avg skips it only when asked to.
    mean = duckdb.sql("select avg(latency) from ds where not isnan(latency)").fetchall()[0][0]
    assert mean == pytest.approx(pdf["latency"].mean())


def test_head_and_info(ds: larder.Dataset) -> None:
    h = ds.head(3)
    assert len(h) == 3 and list(h.index) == [0, 1, 2]
    pd.testing.assert_frame_equal(h, ds.to_pandas().iloc[:3])
    buf = io.StringIO()
    ds.info(buf=buf)
    text = buf.getvalue()
    assert "RangeIndex: 200 entries, 0 to 199" in text
    assert " 0   id       188 non-null" in text
    assert "category" in text and "boolean" in text


def test_to_dask_partitions_equal_to_pandas(ds: larder.Dataset) -> None:
    pytest.importorskip("dask.dataframe")
    d = ds.to_dask(partition_rows=64)
    assert d.npartitions == 4
    pd.testing.assert_frame_equal(d.compute(), ds.to_pandas())
    assert d["latency"].sum().compute() == pytest.approx(ds.to_pandas()["latency"].sum())


def test_to_dask_on_a_local_cluster_with_processes(ds: larder.Dataset) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            got = ds.to_dask(partition_rows=50).compute()
    pd.testing.assert_frame_equal(got, ds.to_pandas())


def test_convert_errors_and_append(log_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "x"
    larder.convert(log_csv, out)
    with pytest.raises(larder.FormatError, match="already exists"):
        larder.convert(log_csv, out)
    extra = tmp_path / "more.csv"
    extra.write_text("id,region,note,when,latency,ok\n999,eu,x,2024-02-01T00:00:00,1.0,true\n")
    r = larder.convert(extra, out, append=True)
    assert r["rows"] == 201 and r["rows_added"] == 1
    assert larder.open_dataset(out).to_pandas()["id"].iloc[-1] == 999
    with pytest.raises(TypeError, match="unknown option"):
        larder._larder.convert([str(log_csv)], str(tmp_path / "y"), {"nope": 1})
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\nx,3\n")
    with pytest.raises(larder.ConversionError):
        larder.convert(bad, tmp_path / "z", types={"a": "int64"}, strict=True)


def test_to_pandas_of_a_large_numeric_dataset_does_not_copy_it(tmp_path: Path) -> None:
    """RSS after to_pandas() of 128 MiB of numeric columns grows far less than the data (a
    copy would add 128 MiB) until values are touched; touching one column adds about it."""
    import json

    rows = 4 << 20
    out = tmp_path / "num"
    out.mkdir()
    cols = []
    for name, dtype in [("a", "<i8"), ("b", "<i8"), ("c", "<f8"), ("d", "<f8")]:
        a = np.lib.format.open_memmap(out / f"{name}.npy", mode="w+", dtype=dtype, shape=(rows,))
        a[:] = np.arange(rows) % 1000
        a.flush()
        del a
        cols.append({"name": name, "file": f"{name}.npy", "dtype": dtype})
    (out / "manifest.json").write_text(json.dumps({"columns": cols, "rows": rows, "rows_read": rows, "version": 1}))
    ds = larder.open_dataset(out)
    ds.to_pandas(stop=10)  # imports and first-call set-up are not the data
    gc.collect()
    before = rss_mib()
    df = ds.to_pandas()
    grown = rss_mib() - before
    assert grown < 16, f"to_pandas grew RSS by {grown:.1f} MiB"
    assert df["c"].sum() == float((np.arange(rows) % 1000).sum())
    touched = rss_mib() - before
    assert touched > 24, f"reading one 32 MiB column grew RSS by only {touched:.1f} MiB"
