"""What to_pandas() costs beside the mapped values: masks only where rows are missing,
categorical codes zero-copy where pandas can take them, checks that read the small files
block by block instead of through the mapping (which would keep them in RSS), and the errors
those checks give for damaged files."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import larder
from larder import _blocks
from conftest import mapped_file, rss_mib


def inside(address: int, file: Path) -> bool:
    return mapped_file(address) == str(file.resolve())


def write_dataset(out: Path, rows: int, columns: dict[str, dict]) -> Path:
    """A dataset directory written by numpy: ``columns`` maps a name to ``values`` (an
    array), and optionally ``valid`` (bools), ``categories`` or ``strings`` (offsets)."""
    out.mkdir()
    meta = []
    for name, c in columns.items():
        entry = {"name": name, "file": f"{name}.npy"}
        if "strings" in c:
            np.save(out / f"{name}.npy", np.frombuffer(c["values"], np.uint8))
            np.save(out / f"{name}.offsets.npy", c["strings"].astype("<i8"))
            entry.update(dtype="str", offsets=f"{name}.offsets.npy")
        else:
            np.save(out / f"{name}.npy", c["values"])
            entry["dtype"] = c["values"].dtype.str
        if "categories" in c:
            entry["categories"] = c["categories"]
        if "valid" in c:
            np.save(out / f"{name}.valid.npy", c["valid"])
            entry["valid"] = f"{name}.valid.npy"
        meta.append(entry)
    manifest = {"columns": meta, "rows": rows, "rows_read": rows, "version": 1}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture(params=[None, 64], ids=["blocks-1MiB", "blocks-64B"])
def block_bytes(request, monkeypatch) -> int:
    """Run with the real block size and with blocks of 64 bytes, so that masks, codes and
    offsets span many blocks and their boundaries fall inside the small test datasets."""
    if request.param is not None:
        monkeypatch.setattr(_blocks, "BLOCK_BYTES", request.param)
    return _blocks.BLOCK_BYTES


def test_to_pandas_equals_read_csv_across_blocks(log_csv: Path, tmp_path: Path, block_bytes) -> None:
    larder.convert(log_csv, tmp_path / "log", types={"note": "str"})
    ds = larder.open_dataset(tmp_path / "log")
    ref = pd.read_csv(log_csv)
    for lo, hi in [(0, 200), (3, 197), (64, 130)]:
        df = ds.to_pandas(start=lo, stop=hi)
        part = ref.iloc[lo:hi]
        for c in df.columns:
            np.testing.assert_array_equal(df[c].isna().to_numpy(), part[c].isna().to_numpy(), err_msg=c)
        assert df["id"].dtype == "Int64" and df["ok"].dtype == "boolean"
        assert list(df["region"].astype(object)) == list(part["region"])
        assert list(df["note"].dropna()) == list(part["note"].dropna())
        assert df["ok"].dropna().tolist() == part["ok"].dropna().astype(bool).tolist()
        present = part["id"].notna().to_numpy()
        np.testing.assert_array_equal(df["id"].to_numpy()[present].astype("int64"), part["id"][present].astype("int64"))
        # the pyarrow backend packs the same validity (floats keep NaN as a value there)
        pa_df = ds.to_pandas(dtype_backend="pyarrow", start=lo, stop=hi)
        for c in ["id", "region", "note", "when", "ok"]:
            np.testing.assert_array_equal(pa_df[c].isna().to_numpy(), part[c].isna().to_numpy(), err_msg=c)
        assert pa_df["ok"].dropna().tolist() == part["ok"].dropna().astype(bool).tolist()


def test_masks_and_code_copies_only_where_rows_are_missing(tmp_path: Path, block_bytes) -> None:
    rows = 1000
    valid = np.ones(rows, bool)
    valid[700] = False  # the only missing row of both columns
    codes = (np.arange(rows) % 3).astype(np.uint8)
    d = write_dataset(tmp_path / "d", rows, {
        "n": {"values": np.arange(rows, dtype="<i8"), "valid": valid},
        "c": {"values": codes, "categories": ["a", "b", "c"], "valid": valid},
    })
    ds = larder.open_dataset(d)

    head = ds.to_pandas(stop=600)  # no missing row in the range
    assert head["n"].dtype == "Int64" and not head["n"].isna().any()
    assert not head["n"].array._mask.any()
    cat = head["c"].array
    assert cat.codes.dtype == np.int8 and cat.codes.min() == 0
    assert inside(cat.codes.__array_interface__["data"][0], d / "c.npy"), "codes were copied"
    assert list(head["c"].astype(str)[:4]) == ["a", "b", "c", "a"]

    full = ds.to_pandas()  # row 700 missing
    assert full["n"].isna().sum() == 1 and pd.isna(full["n"][700])
    assert full["c"].isna().sum() == 1 and pd.isna(full["c"][700])
    assert full["c"].array.codes[700] == -1
    assert not inside(full["c"].array.codes.__array_interface__["data"][0], d / "c.npy")
    assert full["c"].astype(object)[701] == "c"
    # the stored file still holds code 700 % 3 = 1 for the missing row
    assert np.load(d / "c.npy")[700] == 1


def test_codes_wider_than_stored_are_a_copy_with_the_values(tmp_path: Path, block_bytes) -> None:
    # 200 categories fit larder's u1 codes but pandas keeps int16 codes for them.
    rows = 500
    cats = [f"k{i}" for i in range(200)]
    d = write_dataset(tmp_path / "d", rows, {
        "c": {"values": (np.arange(rows) % 200).astype(np.uint8), "categories": cats},
    })
    s = larder.open_dataset(d).to_pandas()["c"]
    assert s.array.codes.dtype == np.int16
    assert list(s.astype(object)[195:205]) == [f"k{i % 200}" for i in range(195, 205)]


def test_damaged_codes_validity_and_offsets_are_errors_naming_the_file(tmp_path: Path, block_bytes) -> None:
    rows = 300
    valid = np.ones(rows, bool)
    valid[5] = False
    codes = (np.arange(rows) % 2).astype(np.uint8)
    codes[5] = 9  # a placeholder of a missing row: never looked up, not an error
    codes[250] = 7  # past the 2 categories, in a row with a value
    d = write_dataset(tmp_path / "codes", rows, {
        "c": {"values": codes, "categories": ["x", "y"], "valid": valid},
    })
    with pytest.raises(larder.FormatError, match=r"c\.npy: byte \d+: row 250: code 7 is past the 2 categories"):
        larder.open_dataset(d).to_pandas()
    # the same without a validity file: zero-copy codes are checked too
    d = write_dataset(tmp_path / "codes2", rows, {"c": {"values": codes, "categories": ["x", "y"]}})
    with pytest.raises(larder.FormatError, match=r"row 5: code 9 is past the 2 categories"):
        larder.open_dataset(d).to_pandas()

    bad_valid = np.ones(rows, np.uint8)
    bad_valid[123] = 2
    d = write_dataset(tmp_path / "valid", rows, {
        "n": {"values": np.arange(rows, dtype="<i8"), "valid": bad_valid.view(bool)},
    })
    with pytest.raises(larder.FormatError, match=r"n\.valid\.npy: byte \d+: bool of row 123 is 2"):
        larder.open_dataset(d).to_pandas()
    with pytest.raises(larder.FormatError, match=r"bool of row 123 is 2"):
        larder.open_dataset(d).to_pandas(dtype_backend="pyarrow")

    offsets = np.arange(rows + 1) * 2
    offsets[150] = offsets[149] - 1  # string 149 ends before it starts
    d = write_dataset(tmp_path / "strings", rows, {
        "s": {"values": b"ab" * rows, "strings": offsets},
    })
    with pytest.raises(larder.FormatError, match=r"s\.offsets\.npy: byte \d+: offsets 149 and 150 decrease"):
        larder.open_dataset(d).to_pandas()


def test_to_pandas_rss_grows_by_the_masks_not_the_files(tmp_path: Path) -> None:
    """4M rows: 32 MiB of string offsets, 4 MiB codes, two 4 MiB validity files. Reading
    them through their mappings (the offsets check, the codes copy, ~validity) grew RSS by
    more than 40 MiB; now only the one mask of the column with a missing row is kept."""
    rows = 4 << 20
    few_missing = np.ones(rows, bool)
    few_missing[rows // 2] = False
    d = write_dataset(tmp_path / "big", rows, {
        "s": {"values": b"xy" * rows, "strings": np.arange(rows + 1) * 2},
        "c": {"values": (np.arange(rows) % 4).astype(np.uint8), "categories": list("abcd"),
              "valid": np.ones(rows, bool)},
        "n": {"values": np.arange(rows, dtype="<i8"), "valid": few_missing},
    })
    larder.open_dataset(d).to_pandas(stop=10)  # imports and first-call set-up
    ds = larder.open_dataset(d)  # a fresh one: its checks are part of what is measured
    gc.collect()
    before = rss_mib()
    df = ds.to_pandas()
    grown = rss_mib() - before
    assert grown < 12, f"to_pandas grew RSS by {grown:.1f} MiB"
    assert df["n"].isna().sum() == 1 and df["c"].isna().sum() == 0
    assert df["s"].str.len().iloc[-1] == 2
