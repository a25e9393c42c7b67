"""``open_dataset`` names a node of a Zarr hierarchy as the command line does (``x.zarr:/a/b``,
``s3://bucket/x.zarr:/a/b``): a dataset group inside a hierarchy opens at its node, locally and
in object storage; a node that is an array, a missing node and a dataset directory given a node
are errors that say which, never the store's root group read in its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import larder
from larder._group import GroupDataset


def hierarchy(log_csv: Path, tmp_path: Path, node: str) -> tuple[Path, Path]:
    """The dataset directory of ``log_csv``, and a hierarchy ``h.zarr`` (written by
    zarr-python) holding its dataset group at ``node`` (``sub/ds``)."""
    zarr = pytest.importorskip("zarr")
    larder.convert(log_csv, tmp_path / "log")
    larder.copy(tmp_path / "log", tmp_path / "log.zarr")
    root = zarr.open_group(tmp_path / "h.zarr", mode="w", zarr_format=3)
    parent = node.rsplit("/", 1)[0] if "/" in node else ""
    if parent:
        root.require_group(parent)
    root.create_array("other", shape=(2,), dtype="i4")
    shutil.copytree(tmp_path / "log.zarr", tmp_path / "h.zarr" / node)
    return tmp_path / "log", tmp_path / "h.zarr"


@pytest.mark.parametrize("node", ["sub/ds", "ds"])
def test_a_dataset_group_inside_a_hierarchy_opens_at_its_node(
    log_csv: Path, tmp_path: Path, node: str
) -> None:
    d, h = hierarchy(log_csv, tmp_path, node)
    g = larder.open_dataset(f"{h}:/{node}")
    assert isinstance(g, GroupDataset) and g.path == f"{h}:/{node}"
    want = larder.open_dataset(d)
    assert g.columns == want.columns and len(g) == len(want) == 200
    pd.testing.assert_frame_equal(g.to_pandas(), want.to_pandas())
    pd.testing.assert_frame_equal(g.to_pandas(start=50, stop=75), want.to_pandas(start=50, stop=75))
    pa = pytest.importorskip("pyarrow")
    assert pa.table(g).equals(pa.table(want))
    # Dask partitions open the same node in their workers.
    pytest.importorskip("dask.dataframe")
    pd.testing.assert_frame_equal(
        g.to_dask(partition_rows=64).compute(scheduler="sync"), want.to_pandas()
    )


def test_the_root_node_is_the_store(log_csv: Path, tmp_path: Path) -> None:
    larder.convert(log_csv, tmp_path / "log")
    larder.copy(tmp_path / "log", tmp_path / "log.zarr")
    g = larder.open_dataset(f"{tmp_path / 'log.zarr'}:/")
    pd.testing.assert_frame_equal(g.to_pandas(), larder.open_dataset(tmp_path / "log.zarr").to_pandas())


def test_nodes_that_are_not_dataset_groups_are_errors_naming_them(
    log_csv: Path, tmp_path: Path
) -> None:
    d, h = hierarchy(log_csv, tmp_path, "sub/ds")
    # A column of the dataset group, and an array elsewhere in the hierarchy.
    for node in ["sub/ds/id", "other"]:
        with pytest.raises(larder.FormatError, match=f"{node}: is an array, not a group: open it with larder.open"):
            larder.open_dataset(f"{h}:/{node}")
        assert larder.open(f"{h}:/{node}").shape[0] in (200, 2)
    # A group larder did not write (no copy suggested: the CLI copies a group at its root).
    with pytest.raises(larder.FormatError, match=r"h.zarr:/sub: a Zarr group larder did not write") as e:
        larder.open_dataset(f"{h}:/sub")
    assert "larder.copy" not in str(e.value)
    with pytest.raises(larder.StorageError, match=r"h.zarr:/nope: .*group metadata is missing"):
        larder.open_dataset(f"{h}:/nope")
    with pytest.raises(larder.StorageError, match="invalid node path"):
        larder.open_dataset(f"{h}:/sub//ds")
    # A dataset directory has no nodes: the error names its column instead.
    with pytest.raises(larder.FormatError, match=r"is a dataset directory, which holds no nodes; its column is open_dataset\(.*\)\['id'\]"):
        larder.open_dataset(f"{d}:/id")


def test_a_node_in_s3_opens_that_node_not_the_root(log_csv: Path, tmp_path: Path, s3: str) -> None:
    boto3 = pytest.importorskip("boto3")
    d, h = hierarchy(log_csv, tmp_path, "sub/ds")
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    for f in h.rglob("*"):
        if f.is_file():
            client.upload_file(str(f), "data", f"h.zarr/{f.relative_to(h).as_posix()}")
    g = larder.open_dataset("s3://data/h.zarr:/sub/ds")
    assert isinstance(g, GroupDataset)
    pd.testing.assert_frame_equal(g.to_pandas(), larder.open_dataset(d).to_pandas())
    # A node that is an array was read as the root group before: now it is refused.
    larder.copy(d, "s3://data/log.zarr")
    with pytest.raises(larder.FormatError, match="s3://data/log.zarr:/id: is an array, not a group"):
        larder.open_dataset("s3://data/log.zarr:/id")
    with pytest.raises(larder.LarderError, match="s3://data/h.zarr:/nope"):
        larder.open_dataset("s3://data/h.zarr:/nope")
