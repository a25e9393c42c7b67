#!/usr/bin/env python3
"""`larder stats` against numpy: writes arrays with numpy (dtypes, NaN, infinities, byte orders,
Fortran order), runs `larder stats --json --bins 7 --quantile ...` and `--axis`, and compares
with np.nansum / np.nanmean / np.nanstd / np.nanmin / np.nanmax / np.histogram /
np.nanquantile. Exits non-zero listing every mismatch.

    python check_stats.py LARDER_BIN WORK_DIR
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

larder, work = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
problems = []


def run(*args):
    out = subprocess.run([larder, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def num(v):
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return v


def close(got, want, rtol=1e-12):
    got, want = num(got), float(want)
    if math.isnan(want):
        return math.isnan(got)
    return got == want or abs(got - want) <= rtol * max(abs(want), 1e-300)


def check(name, what, got, want, rtol=1e-12):
    if not close(got, want, rtol):
        problems.append(f"{name}: {what}: larder {got}, numpy {want}")


cases = {
    "f8_normal": rng.normal(5.0, 2.0, 300_000),
    "f8_nan_inf": np.concatenate([rng.normal(0, 1, 1000), [np.nan, np.nan, np.inf]]),
    "f4": rng.normal(-3.0, 1.5, 100_001).astype("<f4"),
    "f8_be": rng.uniform(-1e6, 1e6, 12_345).astype(">f8"),
    "i8": rng.integers(-(1 << 62), 1 << 62, 5000, dtype="<i8"),
    "u2_be": rng.integers(0, 65535, 7777).astype(">u2"),
    "i1": rng.integers(-128, 127, 999).astype("i1"),
    "f8_2d_f": np.asfortranarray(rng.normal(0, 1, (300, 7))),
}
for name, a in cases.items():
    path = os.path.join(work, f"{name}.npy")
    np.save(path, a)
    qs = [0.0, 0.1, 0.5, 0.93, 1.0]
    f = a.astype("f8")
    finite_range = bool(np.isfinite(np.nanmin(f)) and np.isfinite(np.nanmax(f)))
    extra = ["--bins", "7", "--quantile", ",".join(map(str, qs))] if finite_range else []
    s = run("stats", path, "--json", *extra)
    exact_int = a.dtype.kind in "iu"
    if exact_int:
        want_sum = sum(int(x) for x in a.ravel())
        if s["sum"] != want_sum:
            problems.append(f"{name}: sum {s['sum']} != {want_sum}")
        # Compare the mean against the exact sum, not numpy's wrapping int64 sum.
        check(name, "mean", s["mean"], want_sum / a.size)
    else:
        check(name, "sum", s["sum"], math.fsum(x for x in f.ravel() if not math.isnan(x))
              if not np.isinf(f).any() else np.nansum(f))
        check(name, "mean", s["mean"], np.nanmean(f), 1e-12 if not np.isinf(f).any() else 0)
    check(name, "std", s["std"], np.nanstd(f), 1e-9)
    check(name, "min", s["min"], np.nanmin(f), 0)
    check(name, "max", s["max"], np.nanmax(f), 0)
    if s["count"] != int(np.count_nonzero(~np.isnan(f))) or s["nan_count"] != int(np.isnan(f).sum()):
        problems.append(f"{name}: count/nan_count {s['count']}/{s['nan_count']}")
    if finite_range:
        finite = f[~np.isnan(f)]
        counts, edges = np.histogram(finite, bins=7, range=(finite.min(), finite.max()))
        if s["histogram"]["counts"] != counts.tolist():
            problems.append(f"{name}: histogram {s['histogram']['counts']} != {counts.tolist()}")
        if [num(e) for e in s["histogram"]["edges"]] != edges.tolist():
            problems.append(f"{name}: histogram edges differ")
        # A given range (fused into the summary's pass): numpy's np.histogram(a, bins, range).
        lo, hi = (float(v) for v in np.quantile(finite, [0.1, 0.8]))
        r = run("stats", path, "--json", "--bins", "7", "--range", f"{lo!r},{hi!r}")
        counts, edges = np.histogram(finite, bins=7, range=(lo, hi))
        if r["histogram"]["counts"] != counts.tolist():
            problems.append(f"{name}: range histogram {r['histogram']['counts']} != {counts.tolist()}")
        if [num(e) for e in r["histogram"]["edges"]] != edges.tolist():
            problems.append(f"{name}: range histogram edges differ")
        want_q = np.nanquantile(f, qs)
        for got, w in zip(s["quantiles"], want_q):
            check(name, f"quantile {got['q']}", got["value"], w, 0 if got["exact"] else 1e-3)
    if a.ndim == 2:
        for axis in (0, 1):
            r = run("stats", path, "--json", "--axis", str(axis))
            want = np.nansum(f, axis=axis)
            for g, w in zip(np.array(r["sum"], dtype=float).ravel(), want.ravel()):
                check(name, f"axis {axis} sum", g, w, 1e-12)
            for g, w in zip(np.array(r["std"], dtype=float).ravel(), np.nanstd(f, axis=axis).ravel()):
                check(name, f"axis {axis} std", g, w, 1e-9)

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(cases)} arrays agree with numpy")
