"""Operations: stats and groupby against pandas, and convert releasing the GIL."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import larder
from conftest import interrupted_under_way


@pytest.fixture
def ds_path(log_csv: Path, tmp_path: Path) -> Path:
    larder.convert(log_csv, tmp_path / "log")
    return tmp_path / "log"


def test_stats_match_numpy(ds_path: Path, log_csv: Path) -> None:
    ref = pd.read_csv(log_csv)["latency"].to_numpy()
    s = larder.stats(ds_path / "latency.npy", bins=4, quantiles=[0.1, 0.5])
    assert s["count"] == np.count_nonzero(~np.isnan(ref))
    assert s["nan_count"] == np.count_nonzero(np.isnan(ref))
    assert s["mean"] == pytest.approx(np.nanmean(ref), rel=1e-12)
    assert s["max"] == np.nanmax(ref) and s["min"] == np.nanmin(ref)
    counts, edges = np.histogram(ref[~np.isnan(ref)], bins=4)
    assert s["histogram"]["counts"] == counts.tolist()
    assert [q["value"] for q in s["quantiles"]] == pytest.approx(np.nanquantile(ref, [0.1, 0.5]).tolist())
    ids = larder.stats(ds_path / "id.npy")
    assert ids["count"] == 188  # missing rows left out, as pandas' count()
    with pytest.raises(larder.LarderError, match="categorical"):
        larder.stats(ds_path / "region.npy")


def test_groupby_matches_pandas(ds_path: Path, log_csv: Path) -> None:
    ref = pd.read_csv(log_csv)
    got = larder.groupby(ds_path, "region", ["count", "mean:latency", "max:id", "count:id"])
    want = ref.groupby("region").agg(
        count=("region", "size"), mean=("latency", "mean"), max=("id", "max"), n=("id", "count")
    )
    got = got.loc[want.index]
    assert got["count"].tolist() == want["count"].tolist()
    assert got["mean:latency"].to_numpy() == pytest.approx(want["mean"].to_numpy(), rel=1e-12)
    assert got["max:id"].tolist() == want["max"].tolist()
    assert got["count:id"].tolist() == want["n"].tolist()
    with pytest.raises(larder.ArgumentError, match='no column "nope"'):
        larder.groupby(ds_path, "nope")
    with pytest.raises(larder.ArgumentError, match="unknown kind"):
        larder.groupby(ds_path, "region", ["median:latency"])


def test_groupby_time_buckets(ds_path: Path, log_csv: Path) -> None:
    ref = pd.read_csv(log_csv, parse_dates=["when"])
    got = larder.groupby(ds_path, "when", ["count"], every="7d")
    assert isinstance(got.index, pd.DatetimeIndex)
    assert got["count"].sum() == ref["when"].notna().sum()


def test_convert_releases_the_gil(tmp_path: Path) -> None:
    csv = tmp_path / "big.csv"
    with open(csv, "w") as f:
        f.write("a,b,c\n")
        for i in range(300_000):
            f.write(f"{i},{i * 0.5},k{i % 7}\n")
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.monotonic()
    larder.convert(csv, tmp_path / "big")
    elapsed = time.monotonic() - start
    done.set()
    t.join()
    # A loop holding the GIL between 1 ms sleeps progresses while the conversion runs.
    # With the GIL held throughout it would not run at all until the call returned.
    assert elapsed > 0.05 and ticks >= 0.1 * elapsed / 0.0011, (ticks, elapsed)
    assert len(larder.open_dataset(tmp_path / "big")) == 300_000


def test_ctrl_c_stops_a_conversion_and_resume_finishes_it(tmp_path: Path) -> None:
    import os
    import signal

    csv = tmp_path / "big.csv"
    with open(csv, "w") as f:
        f.write("a,b,c\n")
        for i in range(1_500_000):
            f.write(f"{i},{i * 0.5},k{i % 7}\n")
    out = tmp_path / "big"
    # SIGINT once the conversion reports progress (a fixed delay came after a release build
    # had finished); a build that converts it all first gets the file more times.
    for times in (1, 2, 4, 8, 16, 32):
        sources = [csv] * times
        took = interrupted_under_way(lambda progress: larder.convert(sources, out, progress=progress), out)
        if took is not None:
            break
        shutil.rmtree(out)
    else:
        pytest.fail("every conversion ended before it reported progress")
    # Stopped between batches of blocks, not finished: nothing at the destination.
    assert not out.exists()
    r = larder.convert(sources, out, resume=True)
    assert r["resumed"] and r["rows"] == 1_500_000 * times
    assert took < 10.0, took  # see test_cancel.py for the prompt stops
    # The signal handling is Python's, untouched.
    assert signal.set_wakeup_fd(-1) == -1
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
