"""Datasets kept as Zarr groups (``larder.copy(dataset, "x.zarr")``, local or in S3):
``open_dataset`` opens them with the same columns, length and values as the directory, through
pandas, Arrow, the PyCapsule stream and dask (whose partitions read their rows from the group
in the worker)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import larder
from larder._group import GroupDataset


@pytest.fixture
def pair(log_csv: Path, tmp_path: Path) -> tuple[larder.Dataset, larder.Dataset]:
    larder.convert(log_csv, tmp_path / "log")
    larder.copy(tmp_path / "log", tmp_path / "log.zarr")
    return larder.open_dataset(tmp_path / "log"), larder.open_dataset(tmp_path / "log.zarr")


def same_arrow(a: object, b: object) -> None:
    """Equal Arrow tables: schemas with their metadata, and values (NaN equal to NaN, which
    ``Table.equals`` does not allow)."""
    import pyarrow as pa

    assert isinstance(a, pa.Table) and isinstance(b, pa.Table)
    assert a.schema.equals(b.schema, check_metadata=True), (a.schema, b.schema)
    pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())


def same(d: larder.Dataset, g: larder.Dataset) -> None:
    import pyarrow as pa

    assert isinstance(g, GroupDataset)
    assert g.columns == d.columns and len(g) == len(d)
    pd.testing.assert_frame_equal(g.to_pandas(), d.to_pandas())
    pd.testing.assert_frame_equal(
        g.to_pandas(dtype_backend="pyarrow"), d.to_pandas(dtype_backend="pyarrow")
    )
    pd.testing.assert_frame_equal(g.head(7), d.head(7))
    pd.testing.assert_frame_equal(g.to_pandas(start=33, stop=101), d.to_pandas(start=33, stop=101))
    same_arrow(g.to_arrow(), d.to_arrow())
    same_arrow(pa.table(g), pa.table(d))
    same_arrow(g.to_reader(batch_rows=17).read_all(), d.to_arrow())
    assert g.schema.equals(d.schema, check_metadata=True)
    pd.testing.assert_series_equal(g.dtypes, d.dtypes)
    for name in d.columns:
        assert g[name].kind == d[name].kind
        assert g[name].categories == d[name].categories


def test_a_local_group_reads_as_its_directory(pair: tuple[larder.Dataset, larder.Dataset]) -> None:
    d, g = pair
    same(d, g)
    pytest.importorskip("dask.dataframe")
    part = g.to_dask(partition_rows=37)
    assert part.npartitions == 6
    pd.testing.assert_frame_equal(part.compute(), d.to_pandas())


def test_a_group_with_a_large_dictionary(tmp_path: Path) -> None:
    csv = tmp_path / "ids.csv"
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 5000, 20_000)
    with open(csv, "w") as f:
        f.write("id,v\n")
        f.writelines(f"u{k:06d},{i if i % 9 else ''}\n" for i, k in enumerate(ids))
    larder.convert(csv, tmp_path / "d", types={"id": "category"})
    larder.copy(tmp_path / "d", tmp_path / "d.zarr")
    d, g = larder.open_dataset(tmp_path / "d"), larder.open_dataset(tmp_path / "d.zarr")
    same(d, g)


def test_a_group_not_made_from_a_dataset_is_refused(tmp_path: Path) -> None:
    import zarr

    root = zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=3)
    root.create_array("x", shape=(4,), dtype="f8")
    with pytest.raises(larder.FormatError, match="no `larder` attribute"):
        larder.open_dataset(tmp_path / "plain.zarr")


def test_a_group_in_s3_reads_as_its_directory(log_csv: Path, tmp_path: Path, s3: str) -> None:
    larder.convert(log_csv, tmp_path / "log")
    larder.copy(tmp_path / "log", "s3://data/log")
    d, g = larder.open_dataset(tmp_path / "log"), larder.open_dataset("s3://data/log")
    same(d, g)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        # The workers see the endpoint (and nothing of this process's objects).
        assert all(v == s3 for v in client.run(lambda: os.environ["AWS_ENDPOINT_URL"]).values())
        got = g.to_dask(partition_rows=50).compute()
    pd.testing.assert_frame_equal(got, d.to_pandas())


def test_a_missing_group_in_s3_is_an_error(s3: str) -> None:
    with pytest.raises(larder.LarderError):
        larder.open_dataset("s3://data/nothing-here")
