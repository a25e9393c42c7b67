"""Arrays: modes, zero-copy views and their lifetimes, copy-on-write and deltas, selections of
chunked arrays, copy."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import numpy as np
import pytest

import larder
from conftest import mapped_file


def test_properties(f64: Path) -> None:
    a = larder.open(f64)
    assert a.shape == (3, 4096)
    assert a.dtype == np.float64
    assert a.format == "npy"
    assert a.mode == "r"
    assert a.nbytes == 3 * 4096 * 8
    assert a.chunks == (3, 4096)
    assert len(a) == 3 and a.ndim == 2 and a.size == 3 * 4096
    assert a.resident_bytes >= 0


def test_view_is_zero_copy_inside_the_mapped_file(f64: Path) -> None:
    a = larder.open(f64)
    v = np.asarray(a)
    ptr = v.__array_interface__["data"][0]
    start, length = a.address_range()
    assert start <= ptr < start + length
    assert v.nbytes == length
    # The address lies in a mapping of the file itself, not in a heap copy.
    assert mapped_file(ptr) == str(f64.resolve())
    assert mapped_file(np.load(f64).__array_interface__["data"][0]) != str(f64.resolve())
    np.testing.assert_array_equal(v, np.load(f64))


def test_view_outlives_the_array(f64: Path) -> None:
    a = larder.open(f64)
    v = a.to_numpy()
    w = v[1, 10:20]
    del a, v
    gc.collect()
    np.testing.assert_array_equal(w, np.arange(4096 + 10, 4096 + 20, dtype=np.float64))


def test_read_only_views_refuse_writes(f64: Path) -> None:
    v = larder.open(f64).to_numpy()
    assert not v.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        v[0, 0] = 1.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        v.setflags(write=True)
    with pytest.raises(ValueError, match="read-only"):
        np.add(v, 1, out=v)


def test_r_plus_writes_reach_the_file(f64: Path) -> None:
    a = larder.open(f64, "r+")
    v = np.asarray(a)
    assert v.flags.writeable
    v[2, 7] = -1.5
    a.flush()
    del a, v
    gc.collect()
    assert np.load(f64)[2, 7] == -1.5


def test_cow_writes_never_reach_the_file_and_round_trip_as_a_delta(f64: Path, tmp_path: Path) -> None:
    before = f64.read_bytes()
    c = larder.open(f64, "c")
    assert c.dirty_bytes == 0
    v = c.to_numpy()
    v[0, 0] = 42.0
    v[2, 4095] = 7.0
    assert c.dirty_bytes == 2 * 4096  # two pages written, one at each end
    assert f64.read_bytes() == before
    assert np.load(f64)[0, 0] == 0.0
    d = tmp_path / "fix.delta"
    report = c.save_delta(d)
    assert report["pages"] == 2 and report["depth"] == 1 and report["bytes"] == d.stat().st_size
    del c, v
    gc.collect()
    r = larder.open(f64, deltas=[d])
    got = r.to_numpy()
    assert not got.flags.writeable
    assert got[0, 0] == 42.0 and got[2, 4095] == 7.0 and got[1, 1] == 4097.0
    out = tmp_path / "fixed.npy"
    m = larder.materialize(f64, [d], out)
    assert m["patched_pages"] == 2
    np.testing.assert_array_equal(np.load(out), got)
    # A second clone over the delta: its writes are private too, and save as depth 2.
    c2 = larder.open(f64, "c", deltas=[d])
    c2.to_numpy()[1, 0] = -3.0
    d2 = tmp_path / "fix2.delta"
    assert c2.save_delta(d2)["depth"] == 2
    assert larder.open(f64, deltas=[d, d2]).to_numpy()[1, 0] == -3.0
    assert f64.read_bytes() == before


def test_a_delta_over_another_file_is_refused(f64: Path, tmp_path: Path) -> None:
    c = larder.open(f64, "c")
    c.to_numpy()[0, 0] = 1.0
    d = tmp_path / "x.delta"
    c.save_delta(d)
    other = tmp_path / "other.npy"
    np.save(other, np.zeros((3, 4096)))
    with pytest.raises(larder.DeltaError, match="does not apply"):
        larder.open(other, deltas=[d]).to_numpy()


@pytest.mark.parametrize(
    "array",
    [
        np.array(["2024-01-01T10:00", "NaT", "1969-07-20T20:17"], dtype="M8[ns]"),
        np.array(["2024-01-01", "2025-12-31"], dtype="M8[D]"),
        np.array([1, -2, 3], dtype="m8[ms]"),
        np.arange(10, dtype=">i4"),
        np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
        np.array([True, False, True]),
        np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
        np.arange(6, dtype=np.float16).reshape(2, 3),
        np.array(3.5),
        np.zeros((0, 5), dtype=np.uint32),
    ],
    ids=["M8ns", "M8D", "m8ms", "bigendian", "fortran", "bool", "c8", "f2", "0d", "empty"],
)
def test_every_dtype_and_layout_reads_as_numpy_does(tmp_path: Path, array: np.ndarray) -> None:
    p = tmp_path / "x.npy"
    np.save(p, array)
    got = larder.open(p).to_numpy()
    assert got.dtype == array.dtype
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)
    assert got.flags.f_contiguous == array.flags.f_contiguous


def test_cow_of_the_other_byte_order_is_refused_when_viewed(tmp_path: Path) -> None:
    p = tmp_path / "be.npy"
    np.save(p, np.arange(10, dtype=">f8"))
    c = larder.open(p, "c")
    with pytest.raises(larder.NotViewableError, match="stored as >f8 .* mode \"r\" lends it"):
        c.to_numpy()


def test_npy_indexing_is_numpy_indexing(f64: Path) -> None:
    a, ref = larder.open(f64), np.load(f64)
    for key in [(1, slice(None, None, 7)), (Ellipsis, -1), ([0, 2], slice(3, 9)), (ref > 10000,)]:
        np.testing.assert_array_equal(a[key], ref[key])


@pytest.fixture
def zarr_copy(f64: Path, tmp_path: Path) -> Path:
    z = tmp_path / "a.zarr"
    report = larder.copy(f64, z, chunks=[2, 1000], codec="zstd:5")
    assert report["elements"] == 3 * 4096
    return z


def test_zarr_selections_match_numpy(zarr_copy: Path, f64: Path) -> None:
    z, ref = larder.open(zarr_copy), np.load(f64)
    assert z.format == "zarr" and z.chunks == (2, 1000) and z.mode == "r"
    keys = [
        (slice(None), slice(10, 20)),
        (1, slice(4090, None)),
        (slice(None, None, -1), slice(5, 2000, 333)),
        (Ellipsis, 7),
        (None, 2, slice(1, 3)),
        (-1, -1),
        (np.int64(2), slice(None, 3)),
    ]
    for key in keys:
        got, want = z[key], ref[key]
        np.testing.assert_array_equal(got, want)
        assert np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(np.asarray(z), ref)
    assert z.resident_bytes == 0


def test_zarr_selections_out_of_bounds_raise_index_errors(zarr_copy: Path) -> None:
    z = larder.open(zarr_copy)
    with pytest.raises(IndexError, match="out of bounds"):
        z[3]
    with pytest.raises(IndexError, match="out of bounds"):
        z[0, -5000]
    with pytest.raises(larder.SelectionError):
        z[[0, 1]]
    with pytest.raises(larder.ArgumentError, match="step"):
        z[::0]


def test_zarr_cannot_be_opened_for_writing(zarr_copy: Path) -> None:
    for mode in ["r+", "c"]:
        with pytest.raises(larder.ArgumentError, match="mapped .npy"):
            larder.open(zarr_copy, mode)
    with pytest.raises(ValueError, match="mode"):
        larder.open(zarr_copy, "w")
    with pytest.raises(ValueError, match="without a copy"):
        np.asarray(larder.open(zarr_copy), copy=False)


def test_copy_to_npy_and_hdf5(f64: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.npy"
    larder.copy(f64, out)
    np.testing.assert_array_equal(np.load(out), np.load(f64))
    try:
        larder.copy(f64, tmp_path / "c.h5", chunks=[1, 512])
    except larder.UnsupportedError:
        pytest.skip("built without the hdf5 feature")
    h = larder.open(str(tmp_path / "c.h5") + ":/data")
    assert h.format == "hdf5"
    np.testing.assert_array_equal(h[1, 100:110], np.load(f64)[1, 100:110])


def test_threads_read_and_compute_at_once(zarr_copy: Path, f64: Path) -> None:
    ref = np.load(f64)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                z = larder.open(zarr_copy)
                np.testing.assert_array_equal(z[i % 3, 100 * i : 100 * i + 500], ref[i % 3, 100 * i : 100 * i + 500])
                assert larder.open(f64).to_numpy()[i % 3].sum() == ref[i % 3].sum()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
