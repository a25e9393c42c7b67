"""The in-process criterion benches (`benches/*.rs`), run and read for docs/benchmarks.md.

For each bench file named with `--criterion` (default `npy,cow`), the harness runs

    cargo bench --bench NAME -- --warm-up-time 1 --measurement-time 3

with `CRITERION_HOME` set to a fresh directory, so that only this run's results are read, then
reads criterion's own estimates: `<id>/new/benchmark.json` (the benchmark's id and throughput)
and `<id>/new/estimates.json` (the slope estimate where criterion fitted one, else the mean,
with its 95 % confidence interval, in nanoseconds per iteration). Nothing is typed by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

CRITERION_ARGS = ["--warm-up-time", "1", "--measurement-time", "3"]


def features() -> list[str]:
    """The features `run` built larder with (LARDER_BENCH_FEATURES). `cargo bench` builds the
    `larder` binary too, into the same directory as the release build: with other features it
    would replace the binary the peer scenarios then run."""
    f = os.environ.get("LARDER_BENCH_FEATURES", "").strip()
    # `cli` as `run` adds it: the binary requires it (Cargo.toml `required-features`).
    return ["--features", "cli," + f if f else "cli"]


def command(bench: str) -> list[str]:
    return ["cargo", "bench", "--quiet", *features(), "--bench", bench, "--", *CRITERION_ARGS]


def build(repo: Path, benches: list[str], log) -> None:
    """Compiles every bench first, so no compile overlaps a measurement."""
    argv = ["cargo", "bench", "--quiet", *features(), "--no-run"]
    for b in benches:
        argv += ["--bench", b]
    log("criterion: " + " ".join(argv))
    subprocess.run(argv, cwd=repo, check=True, stdout=subprocess.DEVNULL)


def run(repo: Path, benches: list[str], home: Path, log) -> dict:
    """Runs each bench and returns {"command", "benches": {name: {"rows", "seconds", ...}}}."""
    out: dict = {"args": CRITERION_ARGS, "benches": {}}
    build(repo, benches, log)
    for b in benches:
        bench_home = home / b
        shutil.rmtree(bench_home, ignore_errors=True)
        bench_home.mkdir(parents=True)
        env = dict(os.environ, CRITERION_HOME=str(bench_home))
        argv = command(b)
        log("criterion: " + " ".join(argv))
        t = time.monotonic()
        r = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True)
        rec = {"command": " ".join(argv), "seconds": time.monotonic() - t,
               "returncode": r.returncode, "rows": []}
        if r.returncode != 0:
            rec["error"] = (r.stderr or r.stdout)[-2000:]
            log(f"criterion: bench {b} FAILED: {rec['error'][-400:]}")
        else:
            rec["rows"] = read_results(bench_home)
            if not rec["rows"]:
                rec["error"] = f"no estimates found under {bench_home}"
        out["benches"][b] = rec
    return out


def read_results(home: Path) -> list[dict]:
    """Every benchmark under a criterion home, sorted by id."""
    rows = []
    for bj in sorted(home.rglob("new/benchmark.json")):
        est_path = bj.with_name("estimates.json")
        if not est_path.exists():
            continue
        meta = json.loads(bj.read_text())
        est = json.loads(est_path.read_text())
        rows.append(row(meta, est))
    rows.sort(key=lambda r: (r["group"], natural(r["function"] or ""), natural(r["value"] or "")))
    return rows


def row(meta: dict, est: dict) -> dict:
    """One benchmark: its ids, the headline estimate (s per iteration) and its 95 % interval."""
    kind = "slope" if est.get("slope") else "mean"
    e = est[kind]
    ci = e["confidence_interval"]
    r = {"id": meta["full_id"], "group": meta["group_id"], "function": meta.get("function_id"),
         "value": meta.get("value_str"), "estimator": kind,
         "estimate_s": e["point_estimate"] * 1e-9, "lower_s": ci["lower_bound"] * 1e-9,
         "upper_s": ci["upper_bound"] * 1e-9,
         "median_s": est["median"]["point_estimate"] * 1e-9 if "median" in est else None}
    tp = meta.get("throughput") or {}
    if "Bytes" in tp or "BytesDecimal" in tp:
        r["throughput_bytes"] = tp.get("Bytes", tp.get("BytesDecimal"))
        r["bytes_per_s"] = r["throughput_bytes"] / r["estimate_s"]
    elif "Elements" in tp:
        r["throughput_elements"] = tp["Elements"]
        r["elements_per_s"] = tp["Elements"] / r["estimate_s"]
    return r


def natural(text: str) -> tuple:
    """Sort key putting `64MiB` after `1MiB` and before `512MiB`."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def size_of(value: str | None) -> float | None:
    """`64MiB` -> bytes (for the plot's x axis); None if the value is not a size."""
    import re

    m = re.fullmatch(r"(\d+)(B|KiB|MiB|GiB)", value or "")
    if not m:
        return None
    return int(m.group(1)) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]
