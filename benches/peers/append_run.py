#!/usr/bin/env python3
"""One measured `larder convert --append`: a day's CSV onto a dataset, which is first put back
as it was before any append, so every round appends to the same dataset.

Usage: append_run.py LARDER DATASET DAY.csv [--threads N]

The dataset's state before its first append (each file's length and header, the manifest) is
saved beside it (`DATASET.pristine.json`) the first time; later rounds cut every file back to
its length, rewrite its header and the manifest, and remove the files and the working directory
an append adds. Only the `larder` process is timed (wall seconds, and its peak RSS from
`wait4`). Afterwards the appended rows are checked against the day's CSV sums and the row
count. Prints one JSON line: append_s, peak_rss_bytes, rows, appended, bytes_sum.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HEADER = 4096  # larder's and numpy's headers are far shorter


def snapshot(ds: Path) -> dict:
    manifest = (ds / "manifest.json").read_text()
    if json.loads(manifest).get("appends"):
        sys.exit(f"{ds}: already appended to and no {ds}.pristine.json; regenerate it")
    files = {}
    for p in sorted(ds.iterdir()):
        if p.is_file() and p.name != "manifest.json":
            with open(p, "rb") as f:
                files[p.name] = [p.stat().st_size, base64.b64encode(f.read(HEADER)).decode()]
    return {"manifest": manifest, "files": files}


def restore(ds: Path, snap: dict) -> None:
    for p in ds.iterdir():
        if p.name not in snap["files"] and p.name != "manifest.json":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for name, (size, head) in snap["files"].items():
        with open(ds / name, "r+b") as f:
            f.truncate(size)
            f.seek(0)
            f.write(base64.b64decode(head))
    (ds / "manifest.json").write_text(snap["manifest"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("larder")
    ap.add_argument("dataset", type=Path)
    ap.add_argument("day", type=Path)
    ap.add_argument("--day-rows", type=int, required=True)
    ap.add_argument("--day-bytes-sum", type=int, required=True)
    a = ap.parse_args()
    pristine = a.dataset.with_name(a.dataset.name + ".pristine.json")
    if not pristine.exists():
        pristine.write_text(json.dumps(snapshot(a.dataset)))
    snap = json.loads(pristine.read_text())
    restore(a.dataset, snap)
    rows_before = json.loads(snap["manifest"])["rows"]
    argv = [a.larder, "convert", "--append", "--quiet", "--json", str(a.day), str(a.dataset)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        return 1
    m = json.loads((a.dataset / "manifest.json").read_text())
    rows = m["rows"]
    col = next(c for c in m["columns"] if c["name"] == "bytes")
    arr = np.load(a.dataset / col["file"], mmap_mode="r")
    bytes_sum = int(arr[rows_before:rows].sum(dtype=np.int64))
    bad = []
    if rows != rows_before + a.day_rows:
        bad.append(f"rows {rows}, expected {rows_before} + {a.day_rows}")
    if bytes_sum != a.day_bytes_sum:
        bad.append(f"sum of the appended `bytes` {bytes_sum}, expected {a.day_bytes_sum}")
    if bad:
        sys.stderr.write("; ".join(bad) + "\n")
        return 1
    print(json.dumps({"append_s": seconds, "peak_rss_bytes": usage.ru_maxrss * 1024,
                      "rows": rows, "appended": rows - rows_before, "bytes_sum": bytes_sum}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
