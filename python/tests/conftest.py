"""Shared fixtures of the Python package's tests: small files under pytest's tmp_path."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The Ctrl-C tests send SIGINT to this process. Python turns it into KeyboardInterrupt only if
# SIGINT was not ignored when it started, and a background job of a non-interactive shell (a CI
# runner) starts with it ignored: the tests get the handler an interactive session has.
signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


@pytest.fixture
def f64(tmp_path: Path) -> Path:
    """A 3 x 4 float64 .npy spanning more than one page (so page-level COW shows)."""
    p = tmp_path / "a.npy"
    np.save(p, np.arange(4096 * 3, dtype=np.float64).reshape(3, 4096))
    return p


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    """A CSV with every column kind and missing values."""
    p = tmp_path / "log.csv"
    rows = ["id,region,note,when,latency,ok"]
    for i in range(200):
        id_ = "" if i % 17 == 5 else str(i)
        note = "" if i % 5 == 0 else f"note {i} ünï"
        when = "" if i % 23 == 3 else f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00"
        lat = "" if i % 11 == 7 else f"{i * 0.25}"
        ok = "" if i % 13 == 2 else ("true" if i % 2 else "false")
        rows.append(f"{id_},{['eu', 'us', 'ap'][i % 3]},{note},{when},{lat},{ok}")
    p.write_text("\n".join(rows) + "\n")
    return p


def larder_bin() -> str | None:
    b = os.environ.get("LARDER_BIN")
    return b if b and os.path.exists(b) else None


def mapped_file(address: int) -> str | None:
    """The file mapped at `address` in this process (from /proc/self/maps), None for memory
    that maps no file (heap, anonymous)."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5] if len(parts) > 5 else None
    return None


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with the bucket ``data``; its endpoint in the environment
    (the environment reaches dask's worker processes started after it)."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for k, v in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
        }.items():
            monkeypatch.setenv(k, v)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="data")
        yield endpoint
    finally:
        server.stop()


def rss_mib() -> float:
    """This process's resident memory (VmRSS), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def interrupted_under_way(
    call: Callable[[Callable[[Any], None]], Any],
    dst: Path,
    started: Callable[[], bool] = lambda: False,
) -> float | None:
    """Runs ``call(progress)`` and sends SIGINT as soon as the call is under way: its progress
    callback reports (at most every 0.2 s, and only while the call runs), or ``started()``
    (polled every 2 ms: a file the call makes) says so. The signal then comes during the call in
    a debug build and in a release one alike, where a fixed delay came after a release build's
    call had ended. Returns the seconds from the signal to KeyboardInterrupt, or None when the
    call ended first (too little input for this build: the caller gives it more and runs it
    again): it returned, or its destination ``dst`` exists (a signal that comes as the call
    returns raises KeyboardInterrupt just after it)."""
    under_way, finished = threading.Event(), threading.Event()
    sent: list[float] = []

    def fire() -> None:
        while not under_way.wait(0.002):
            if started():
                break
        if not finished.is_set():
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=fire)
    helper.start()
    stopped = None
    try:
        call(lambda _: under_way.set())
    except KeyboardInterrupt:
        stopped = time.monotonic()
    finally:
        finished.set()
        under_way.set()
        helper.join()
    if stopped is None or dst.exists():
        if sent and stopped is None:  # the call ended as the signal came: let it go by
            try:
                time.sleep(0.2)
            except KeyboardInterrupt:
                pass
        return None
    assert sent, "KeyboardInterrupt without the signal"
    print(f"KeyboardInterrupt {stopped - sent[0]:.3f} s after SIGINT")  # shown with -s
    return stopped - sent[0]
