"""Date-times read with an offset or a time zone (a format with ``%z``/``%:z``/``%Q``) come out
tz-aware in UTC, as ``pd.read_csv`` gives text with offsets: pandas ``datetime64[unit, UTC]``,
Arrow ``timestamp[unit, tz=UTC]``; ISO 8601 text and formats without a zone come out naive, as
``pd.read_csv(parse_dates=…)`` gives text without an offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import larder
from conftest import mapped_file

CLF = "%d/%b/%Y:%H:%M:%S %z"
LOCAL = "%d/%m/%Y %H:%M"
NAMED = "%Y-%m-%d %H:%M %Q"


@pytest.fixture
def zones(tmp_path: Path) -> tuple[Path, larder.Dataset]:
    csv = tmp_path / "tz.csv"
    csv.write_text(
        "clf,local,iso,named\n"
        "01/Jan/2024:10:00:00 +0100,01/01/2024 10:00,2024-01-01T10:00:00,2024-07-01 10:00 Europe/Paris\n"
        "02/Jan/2024:11:30:00 -0500,02/01/2024 11:30,2024-01-02T11:30:00,2024-12-01 10:00 America/New_York\n"
        ",,,\n"
    )
    types = {
        "clf": f"datetime64[s]:{CLF}",
        "local": f"datetime64[s]:{LOCAL}",
        "iso": "datetime64[s]",
        "named": f"datetime64[s]:{NAMED}",
    }
    larder.convert(csv, tmp_path / "tz", types=types)
    return csv, larder.open_dataset(tmp_path / "tz")


def test_zoned_columns_are_utc_and_the_others_naive_in_pandas(zones: tuple[Path, larder.Dataset]) -> None:
    csv, ds = zones
    df = ds.to_pandas()
    assert str(df["clf"].dtype) == "datetime64[s, UTC]" and str(df["named"].dtype) == "datetime64[s, UTC]"
    assert df["local"].dtype == np.dtype("M8[s]") and df["iso"].dtype == np.dtype("M8[s]")
    pd.testing.assert_series_equal(ds.dtypes, df.dtypes, check_names=False)
    raw = pd.read_csv(csv, dtype=str)
    # Mixed offsets: pandas gives UTC instants when asked (utc=True), as larder stores them.
    want = pd.to_datetime(raw["clf"], format=CLF, utc=True)
    pd.testing.assert_series_equal(df["clf"], want.dt.as_unit("s"))
    assert df["clf"].dt.tz_convert("Europe/Paris").iloc[0] == pd.Timestamp("2024-01-01 10:00", tz="Europe/Paris")
    # No offset: the same naive times as pd.read_csv's.
    ref = pd.read_csv(csv, parse_dates=["iso", "local"], date_format={"local": LOCAL})
    assert ref["iso"].dtype.kind == "M" and getattr(ref["iso"].dtype, "tz", None) is None
    for c in ["iso", "local"]:
        np.testing.assert_array_equal(df[c].to_numpy(), ref[c].to_numpy().astype("M8[s]"), err_msg=c)
    named = [
        pd.Timestamp("2024-07-01 10:00").tz_localize("Europe/Paris").tz_convert("UTC"),
        pd.Timestamp("2024-12-01 10:00").tz_localize("America/New_York").tz_convert("UTC"),
    ]
    assert list(df["named"].iloc[:2]) == named and df["named"].isna().tolist() == [False, False, True]
    # The pyarrow backend and head() agree.
    arrow_backed = ds.to_pandas(dtype_backend="pyarrow")
    assert str(arrow_backed["clf"].dtype) == "timestamp[s, tz=UTC][pyarrow]"
    assert str(arrow_backed["iso"].dtype) == "timestamp[s][pyarrow]"
    assert str(ds.head(1)["named"].dtype) == "datetime64[s, UTC]"


def test_a_single_offset_matches_read_csv_as_utc(tmp_path: Path) -> None:
    # One offset throughout: pd.read_csv gives a fixed-offset zone; larder gives the same
    # instants in UTC (it keeps instants, not the offset they were written with).
    fmt = "%Y-%m-%d %H:%M:%S%.f%:z"
    csv = tmp_path / "one.csv"
    csv.write_text("t,v\n" + "".join(f"2024-03-0{i + 1} 0{i}:15:00.250+05:30,{i}\n" for i in range(5)))
    larder.convert(csv, tmp_path / "one", types={"t": f"datetime64[ms]:{fmt}"})
    ds = larder.open_dataset(tmp_path / "one")
    got = ds.to_pandas()["t"]
    ref = pd.read_csv(csv, parse_dates=["t"], date_format={"t": "%Y-%m-%d %H:%M:%S.%f%z"})["t"]
    assert getattr(ref.dtype, "tz", None) is not None, ref.dtype
    assert str(got.dtype) == "datetime64[ms, UTC]"
    pd.testing.assert_series_equal(got, ref.dt.tz_convert("UTC").dt.as_unit("ms"), check_names=False)
    # Zero-copy: no value is missing, so the tz-aware array is the mapped file.
    assert mapped_file(got.array._ndarray.ctypes.data) == str((tmp_path / "one" / "t.npy").resolve())


def test_arrow_polars_and_duckdb_see_the_same_zones(zones: tuple[Path, larder.Dataset]) -> None:
    _, ds = zones
    table = pa.table(ds)
    assert table.schema.field("clf").type == pa.timestamp("s", tz="UTC")
    assert table.schema.field("named").type == pa.timestamp("s", tz="UTC")
    assert table.schema.field("local").type == pa.timestamp("s")
    assert table.schema.field("iso").type == pa.timestamp("s")
    assert ds.schema.equals(table.schema)
    for c in ds.columns:
        assert ds[c].to_arrow().type == table.schema.field(c).type, c
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(ds)
    assert frame.schema["clf"].time_zone == "UTC"  # type: ignore[union-attr]
    assert frame.schema["iso"].time_zone is None  # type: ignore[union-attr]
    duckdb = pytest.importorskip("duckdb")
    types = {r[0]: r[1] for r in duckdb.sql("describe select * from ds").fetchall()}
    assert types["clf"] == "TIMESTAMP WITH TIME ZONE" and types["iso"].startswith("TIMESTAMP")
    assert "TIME ZONE" not in types["iso"] and "TIME ZONE" not in types["local"]


def test_a_group_keeps_the_zones(zones: tuple[Path, larder.Dataset], tmp_path: Path) -> None:
    _, ds = zones
    larder.copy(ds.path, tmp_path / "tz.zarr")
    g = larder.open_dataset(tmp_path / "tz.zarr")
    pd.testing.assert_frame_equal(g.to_pandas(), ds.to_pandas())
    assert g.schema.equals(ds.schema)
    assert pa.table(g).schema.field("clf").type == pa.timestamp("s", tz="UTC")


def test_iso_text_with_offsets_is_utc_without_a_format(tmp_path: Path) -> None:
    # ISO 8601 text whose values carry `Z` or an offset, read without a format: tz-aware in
    # UTC, as pd.to_datetime gives it; the same text without offsets stays naive.
    csv = tmp_path / "iso.csv"
    rows = [("2024-01-01T10:00:00Z", "2024-01-01 10:00:00", "2024-01-01T10:00:00")] * 3
    rows.append(("2024-01-02T11:30:00+02:00", "2024-01-02 11:30:00", "2024-01-02T11:30:00-05:00"))
    csv.write_text("zulu,naive,last\n" + "".join(",".join(r) + "\n" for r in rows))
    larder.convert(csv, tmp_path / "iso")
    ds = larder.open_dataset(tmp_path / "iso")
    df = ds.to_pandas()
    raw = pd.read_csv(csv, dtype=str)
    for c in ["zulu", "last"]:
        assert str(df[c].dtype) == "datetime64[s, UTC]", (c, df[c].dtype)
        want = pd.to_datetime(raw[c], format="ISO8601", utc=True).dt.as_unit("s")
        pd.testing.assert_series_equal(df[c], want, check_names=False)
    assert df["naive"].dtype == np.dtype("M8[s]")
    assert pa.table(ds).schema.field("last").type == pa.timestamp("s", tz="UTC")
