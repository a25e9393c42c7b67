"""Ctrl-C during long calls: SIGINT sent to the process while the call runs raises
KeyboardInterrupt within a second, leaves no temporary file (a conversion stays resumable), and
the next call works. Progress callbacks: called while the call runs, and an exception in one
stops the call and propagates."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas  # noqa: F401  (imported here: an import cut by the signal would stay broken)
import pyarrow  # noqa: F401
import pytest

import larder
from conftest import interrupted_under_way

# The signal comes this long after the call starts; every call below takes longer.
DELAY = 0.3
ELEMENTS = 8 << 20
ROWS = 2_000_000


def interrupted(call: Callable[[], Any], delay: float = DELAY) -> float:
    """Runs ``call`` with SIGINT sent to the process ``delay`` seconds in; asserts that it
    raised KeyboardInterrupt, and returns the seconds from the signal to the exception."""
    sent: list[float] = []

    def fire() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay, fire)
    timer.start()
    try:
        call()
    except KeyboardInterrupt:
        stopped = time.monotonic()
    else:
        pytest.fail("the call ended before the signal came: its input is too small")
    finally:
        timer.cancel()  # no stray signal after a failure
        timer.join()
    assert sent, "KeyboardInterrupt without the signal"
    print(f"KeyboardInterrupt {stopped - sent[0]:.3f} s after SIGINT")  # shown with -s
    return stopped - sent[0]


def again(call: Callable[[], Any]) -> Callable[[], None]:
    """``call`` over and over (for at most a minute), for a call that leaves nothing behind:
    on a fast machine one call can end before the signal comes."""

    def run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            call()

    return run


def files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory with a 64 MiB float64 array, its Zarr copy, a 2M-row CSV (35 MB) and its
    dataset (34 MB); removed after the module's tests."""
    d = tmp_path_factory.mktemp("big")
    a = np.arange(ELEMENTS, dtype=np.float64) % 1000.0
    np.save(d / "a.npy", a)
    larder.copy(d / "a.npy", d / "a.zarr", chunks=[1 << 18])
    rng = np.random.default_rng(7)
    n = ROWS
    keys = rng.integers(0, 50, n)
    with open(d / "big.csv", "w") as f:
        f.write("k,v,x\n")
        for lo in range(0, n, 500_000):
            f.writelines(
                f"key{k},{i},{i * 0.5}\n" for i, k in enumerate(keys[lo : lo + 500_000], lo)
            )
    larder.convert(d / "big.csv", d / "ds")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def scratch(big: Path, tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def larger(big: Path, times: int) -> Path:
    """``a.npy`` repeated ``times`` times (made once, in the module's directory)."""
    p = big / f"a{times}.npy"
    if not p.exists():
        a = np.load(big / "a.npy", mmap_mode="r")
        with open(p, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (ELEMENTS * times,)})
            for _ in range(times):
                f.write(memoryview(a).cast("B"))
    return p


def test_ctrl_c_stops_a_copy_without_temporaries(big: Path, scratch: Path) -> None:
    for name, codec in (("b.zarr", "zstd:19"), ("b.h5", "gzip:9")):
        # The signal comes once the copy has made its temporary beside the destination (a
        # local copy reports no progress); a build that copies the input before the signal
        # is seen gets twice as much, up to 16 times.
        for times in (1, 2, 4, 8, 16):
            src = big / "a.npy" if times == 1 else larger(big, times)
            took = interrupted_under_way(
                lambda progress: larder.copy(src, scratch / name, codec=codec),
                scratch / name,
                started=lambda: any(scratch.iterdir()),
            )
            if took is not None:
                break
            shutil.rmtree(scratch / name, ignore_errors=True)
            (scratch / name).unlink(missing_ok=True)
        else:
            pytest.fail(f"{name}: every copy ended before it reported progress")
        assert took < 1.0, (name, took)
        assert files(scratch) == [], name  # nothing left, not even a temporary
    # The next call works.
    r = larder.copy(big / "a.npy", scratch / "b.zarr")
    assert r["elements"] == ELEMENTS


def test_ctrl_c_stops_stats_and_groupby(big: Path) -> None:
    took = interrupted(again(lambda: larder.stats(big / "a.zarr", quantiles=[0.1, 0.5, 0.9], bins=100)))
    assert took < 1.0, took
    took = interrupted(again(lambda: larder.groupby(big / "ds", "k", ["count", "mean:v", "max:x"])))
    assert took < 1.0, took
    # The next calls work: nothing stays cancelled.
    assert larder.stats(big / "a.npy")["count"] == ELEMENTS
    assert larder.groupby(big / "ds", "k")["count"].sum() == ROWS


def test_ctrl_c_stops_a_conversion_that_resume_finishes(big: Path, scratch: Path) -> None:
    out = scratch / "ds"
    # The signal comes once the conversion reports progress; a build that converts the input
    # before that gets it twice as many times (the same file given again), up to 32 times.
    for times in (1, 2, 4, 8, 16, 32):
        sources = [big / "big.csv"] * times
        took = interrupted_under_way(lambda progress: larder.convert(sources, out, progress=progress), out)
        if took is not None:
            break
        shutil.rmtree(out)
    else:
        pytest.fail("every conversion ended before it reported progress")
    # A conversion checks between batches of 2 x threads + 2 blocks of 1 MiB, parsed in
    # parallel: tens of ms in a release build, up to about a second and a half in the debug
    # build the tests use on a loaded machine.
    assert took < 3.0, took
    assert not out.exists()
    # Converting again without resume=True is refused as a conversion error naming what to
    # do, not taken for another Ctrl-C.
    with pytest.raises(larder.errors.ConversionError, match="resume it, or delete it"):
        larder.convert(sources, out)
    r = larder.convert(sources, out, resume=True)
    assert r["rows"] == ROWS * times
    assert files(scratch) == ["ds"]


def test_ctrl_c_stops_arrow_and_pandas_exports(big: Path) -> None:
    ds = larder.open_dataset(big / "ds")
    # A Dataset makes its Arrow table once: a fresh one each time, so each call exports.
    took = interrupted(again(lambda: larder.open_dataset(big / "ds").to_arrow()))
    assert took < 1.0, took
    took = interrupted(again(ds.to_pandas))
    assert took < 1.0, took
    assert ds.to_arrow().num_rows == ROWS


def test_ctrl_c_stops_a_single_large_read(tmp_path: Path) -> None:
    zarr = pytest.importorskip("zarr")
    # 128 MiB of float64 in memory, a few hundred KiB on disk: one read of it all takes
    # seconds in the debug build, so a stop under a second is a stop between its pieces.
    rows, cols = 2048, 8192
    w = zarr.create_array(tmp_path / "w.zarr", shape=(rows, cols), chunks=(128, cols), dtype="f8")
    row = np.arange(cols, dtype=np.float64) % 97.0

    def want(r: Any, c: Any) -> np.ndarray[Any, Any]:
        return np.asarray(r, dtype=np.float64)[:, None] * 1000.0 + row[c][None, :]

    for lo in range(0, rows, 128):
        w[lo : lo + 128] = want(range(lo, lo + 128), slice(None))
    z = larder.open(tmp_path / "w.zarr")
    took = interrupted(lambda: z[:, 1:], delay=0.2)
    assert took < 1.0, took
    start = time.monotonic()
    whole = z[3:, 1:]
    print(f"the whole read: {time.monotonic() - start:.3f} s")
    # The pieces put back together in order: forward slices, strides, new axes before the
    # first axis.
    assert np.array_equal(whole, want(range(3, rows), slice(1, None)))
    assert np.array_equal(z[1:2000:3, :4], want(range(1, 2000, 3), slice(0, 4)))
    assert np.array_equal(z[None, 5:, 7], want(range(5, rows), slice(7, 8)).T)


def test_progress_is_reported_while_a_conversion_runs(big: Path, scratch: Path) -> None:
    # Reports come at most every 0.2 s: a build that converts the file in less than twice that
    # gets it more times (the same file given again), up to 32 times.
    for times in (1, 2, 4, 8, 16, 32):
        seen: list[tuple[float, dict[str, Any]]] = []
        t0 = time.monotonic()
        r = larder.convert(
            [big / "big.csv"] * times,
            scratch / "ds",
            progress=lambda p: seen.append((time.monotonic() - t0, p)),
        )
        if len(seen) >= 2:
            break
        shutil.rmtree(scratch / "ds")
    assert len(seen) >= 2, seen
    total = os.path.getsize(big / "big.csv") * times
    for _, p in seen:
        assert set(p) >= {"bytes_read", "total_bytes", "rows_read", "rejected"}
        assert p["total_bytes"] == total and 0 < p["bytes_read"] <= total
        assert p["rejected"] == 0
    reads = [p["bytes_read"] for _, p in seen]
    assert reads == sorted(reads)
    gaps = np.diff([t for t, _ in seen])
    assert gaps.min() >= 0.19, gaps  # at most every 0.2 s
    assert r["rows"] == ROWS * times


def test_an_exception_in_progress_stops_the_conversion(big: Path, scratch: Path) -> None:
    class Enough(Exception):
        pass

    calls = []

    def stop(p: dict[str, Any]) -> None:
        calls.append(p)
        raise Enough(p["bytes_read"])

    with pytest.raises(Enough) as e:
        larder.convert(big / "big.csv", scratch / "ds", progress=stop)
    assert len(calls) == 1 and e.value.args[0] < os.path.getsize(big / "big.csv")
    assert not (scratch / "ds").exists()
    # Resumable, as after Ctrl-C.
    r = larder.convert(big / "big.csv", scratch / "ds", resume=True, progress=lambda p: None)
    assert r["rows"] == ROWS


def test_progress_of_a_copy_into_object_storage(tmp_path: Path, s3: str) -> None:
    src = tmp_path / "a.npy"
    np.save(src, np.arange(1 << 20, dtype=np.float64))
    seen: list[dict[str, int]] = []
    r = larder.copy(src, "s3://data/a.zarr", chunks=[4096], codec="none", progress=seen.append)
    assert r["elements"] == 1 << 20
    assert seen, "no progress reported during a copy of 256 chunks"
    for p in seen:
        assert p["bytes_total"] == 8 << 20 and p["chunks_total"] == 256
        assert 0 <= p["bytes_done"] <= p["bytes_total"]
    done = [p["chunks_done"] for p in seen]
    assert done == sorted(done)

    class Enough(Exception):
        pass

    def stop(p: dict[str, int]) -> None:
        raise Enough

    with pytest.raises(Enough):
        larder.copy(src, "s3://data/b.zarr", chunks=[4096], codec="none", progress=stop)
    # Resumable, as after any failure of a copy into object storage.
    r = larder.copy(src, "s3://data/b.zarr", chunks=[4096], codec="none", resume=True)
    assert np.array_equal(larder.open("s3://data/b.zarr")[:], np.arange(1 << 20, dtype=np.float64))


def test_progress_must_be_callable(log_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not callable"):
        larder.convert(log_csv, tmp_path / "ds", progress=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not callable"):
        larder.copy(log_csv, tmp_path / "x.npy", progress="no")  # type: ignore[arg-type]
    assert not (tmp_path / "ds").exists() and not (tmp_path / "x.npy").exists()
