"""Errors: the LarderError hierarchy, the built-ins Python users catch, the CLI's messages,
and hostile files that raise instead of crashing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import larder
from conftest import FIXTURES, larder_bin


def test_missing_files_are_file_not_found_and_larder_errors(tmp_path: Path) -> None:
    p = tmp_path / "nope.npy"
    with pytest.raises(FileNotFoundError) as e:
        larder.open(p)
    assert isinstance(e.value, larder.LarderError)
    assert str(e.value) == f"{p}: No such file or directory (os error 2)"
    with pytest.raises(FileNotFoundError):
        larder.open_dataset(tmp_path / "no-dataset")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_files_are_permission_errors(f64: Path) -> None:
    f64.chmod(0)
    with pytest.raises(PermissionError):
        larder.open(f64)


def test_a_file_held_for_writing_is_a_locked_error_naming_this_process(tmp_path: Path) -> None:
    for dtype in ("<f8", "<i2"):
        p = tmp_path / f"held-{dtype[1:]}.npy"
        np.save(p, np.arange(10, dtype=dtype))
        held = larder.open(p, "r+")
        with pytest.raises(larder.LockedError, match="this process") as e:
            larder.open(p, "r+")
        assert isinstance(e.value, BlockingIOError)
        assert str(p) in str(e.value)
        del held


def test_messages_are_the_clis(tmp_path: Path) -> None:
    p = tmp_path / "bad.npy"
    p.write_bytes(b"\x93NUMPY\x01\x00" + b"x" * 100)
    with pytest.raises(larder.FormatError) as e:
        larder.open(p)
    assert isinstance(e.value, ValueError)
    b = larder_bin()
    if b is None:
        pytest.skip("LARDER_BIN not set")
    cli = subprocess.run([b, "info", str(p)], capture_output=True, text=True)
    assert cli.returncode != 0
    assert cli.stderr.strip() == f"larder: {e.value}"


def test_truncated_npy_is_a_format_error(tmp_path: Path) -> None:
    p = tmp_path / "t.npy"
    np.save(p, np.arange(1000, dtype=np.int64))
    data = p.read_bytes()
    for cut in [10, 60, len(data) - 8]:
        p.write_bytes(data[:cut])
        with pytest.raises(larder.FormatError):
            larder.open(p).to_numpy()


def test_unknown_dataset_column_is_a_key_error(log_csv: Path, tmp_path: Path) -> None:
    larder.convert(log_csv, tmp_path / "ds")
    ds = larder.open_dataset(tmp_path / "ds")
    with pytest.raises(KeyError, match="no column 'nope'"):
        ds["nope"]


HOSTILE = sorted(p for p in (FIXTURES / "fuzz").rglob("*") if p.is_file() and p.suffix != ".csv")


@pytest.mark.parametrize("path", HOSTILE, ids=[str(p.relative_to(FIXTURES / "fuzz")) for p in HOSTILE])
def test_hostile_fixtures_raise_or_read_never_crash(path: Path) -> None:
    """Every fuzz fixture is opened as an array and (for manifests) as a dataset; each either
    works or raises a LarderError: the interpreter survives."""
    target = path
    if path.name == "manifest.json":
        try:
            ds = larder.open_dataset(path.parent)
            ds.to_pandas()
            ds.to_arrow()
        except larder.LarderError:
            pass
        return
    if path.parent.name.endswith(".zarr") or path.name in ("zarr.json", ".zarray"):
        target = path.parent
    try:
        a = larder.open(target)
        np.asarray(a).copy()  # touches every byte
    except (larder.LarderError, ValueError, IndexError):
        pass


def test_fuzz_csvs_convert_or_raise(tmp_path: Path) -> None:
    for i, csv in enumerate(sorted((FIXTURES / "fuzz" / "csv").rglob("*.csv"))):
        try:
            larder.convert(csv, tmp_path / f"ds{i}")
            larder.open_dataset(tmp_path / f"ds{i}").to_pandas()
        except larder.LarderError:
            pass
