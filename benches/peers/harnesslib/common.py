"""Small helpers the scenario modules share: result lookup, verifications and targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import npy_data_sha1
from .model import Target, last_json

MiB = 1 << 20


def summary(case_out: dict, name: str) -> dict | None:
    """The summary of contender `name` in a finished case (None if it did not run)."""
    for c in case_out["contenders"]:
        if c["name"] == name and c.get("summary") and c["status"] == "ok":
            return c["summary"]
    return None


def find_case(results: dict, scenario: str, case: str) -> dict | None:
    for s in results.get("scenarios", []):
        if s["name"] == scenario:
            for c in s["cases"]:
                if c["name"] == case and c["status"] == "ok":
                    return c
    return None


def npy_verify(path: Path):
    """A verify function: dtype, shape and sha1 of the data bytes of the .npy at `path`."""

    def verify(ctx, values: dict) -> dict:
        a = np.load(path, mmap_mode="r")
        out = {"dtype": a.dtype.str, "shape": list(a.shape), "data_sha1": npy_data_sha1(path)}
        del a
        return out

    return verify


def json_parse(value_keys: list[str], metric_keys: list[str] = (), what: str = "output"):
    """A parse function: the last JSON line of stdout; `value_keys` are compared across
    contenders (all required), `metric_keys` shown in the tables (optional)."""
    from .model import require

    def parse(run, ctx) -> dict:
        d = last_json(run.stdout)
        require(d, *value_keys, what=what)
        return {"values": {k: d[k] for k in value_keys},
                "metrics": {k: d[k] for k in metric_keys if isinstance(d.get(k), (int, float))}}

    return parse


def faster_than(peer: str, factor: float, larder: str = "larder", metric: str | None = None,
                text: str | None = None) -> Target:
    """Target: larder's median time (wall, or a reported metric) ≤ peer's / factor."""

    def ev(case_out, results):
        a, b = summary(case_out, larder), summary(case_out, peer)
        if not a or not b:
            return None
        ta = a["metrics"][metric] if metric else a["wall_median_s"]
        tb = b["metrics"][metric] if metric else b["wall_median_s"]
        ratio = tb / ta
        return f"{ratio:.2f}×", ratio >= factor

    what = f" ({metric})" if metric else ""
    return Target(text or f"larder ≥ {factor:g}× {peer}{what}", ev)


def rss_at_most(limit: int, name: str = "larder", text: str | None = None) -> Target:
    def ev(case_out, results):
        s = summary(case_out, name)
        if not s:
            return None
        m = s["maxrss_max_bytes"]
        return f"{m / MiB:.1f} MiB", m <= limit

    return Target(text or f"{name} peak RSS ≤ {limit / MiB:g} MiB", ev)


def size_text(n: int) -> str:
    """`4 GiB`, `256 MiB`, `64 KiB`, `1.5 GiB`."""
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            v = n / div
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.3g} {unit}"
    return f"{n} B"
