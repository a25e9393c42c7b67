#!/usr/bin/env python3
"""Side-by-side timing of `larder stats` / `larder groupby` against numpy, polars and DuckDB,
for the compute feature, as whole processes:

    python compute_run.py --larder BIN --array X.npy [--dataset DIR] [--repeat 5]

Runs every contender --repeat times, alternating, on a warm page cache; checks their results
agree; prints one JSON object: per case, each contender's fastest and median wall time, and the
internal time the Python peers report for their own work (without interpreter start-up).
Make inputs with numpy (`np.lib.format.open_memmap`) and make_dataset.py.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, json.loads(out.strip().splitlines()[-1])


def close(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b


def case(contenders, repeat, check):
    times = {name: [] for name in contenders}
    inner = {name: [] for name in contenders}
    results = {}
    for r in range(repeat):
        names = list(contenders)
        names = names[r % len(names):] + names[:r % len(names)]
        for name in names:
            secs, res = run(contenders[name])
            times[name].append(secs)
            if isinstance(res.get("seconds"), (int, float)):
                inner[name].append(res["seconds"])
            elif isinstance(res.get("seconds"), dict):
                inner[name].append(sum(res["seconds"].values()))
            results[name] = res
    problems = check(results)
    return {
        "wall_min": {n: min(t) for n, t in times.items()},
        "wall_median": {n: statistics.median(t) for n, t in times.items()},
        "inner_min": {n: min(t) for n, t in inner.items() if t},
        "equal": not problems,
        "problems": problems,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--larder", required=True)
    ap.add_argument("--array")
    ap.add_argument("--dataset")
    ap.add_argument("--by", default="product")
    ap.add_argument("--agg", default="count,sum:duration,mean:duration,max:bytes")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    report = {}
    if args.array:
        def check_stats(res):
            a, b = res["larder"], res["numpy"]
            return [k for k in ("sum", "min", "max", "mean", "std")
                    if not close(a[k], b[k]) and abs(a[k] - b[k]) > 1e-12 * abs(b[k]) * 1e3]
        report["stats"] = case({
            "larder": [args.larder, "stats", "--json", args.array],
            "numpy": [py, os.path.join(HERE, "stats_numpy.py"), args.array,
                      "--ops", "sum,min,max,mean,std"],
        }, args.repeat, check_stats)
        for op in ("sum", "std", "histogram"):
            report[f"numpy_{op}"] = case({"numpy": [
                py, os.path.join(HERE, "stats_numpy.py"), args.array, "--ops", op]},
                args.repeat, lambda res: [])
    if args.dataset:
        def check_groupby(res):
            ref = res["larder"]
            bad = []
            for name, r in res.items():
                if r["keys"] != ref["keys"] or not close(
                        [r["aggregates"][k] for k in sorted(r["aggregates"])],
                        [ref["aggregates"][k] for k in sorted(ref["aggregates"])]):
                    bad.append(name)
            return bad
        common = ["--by", args.by, "--agg", args.agg]
        report["groupby"] = case({
            "larder": [args.larder, "groupby", args.dataset, *common, "--json"],
            "polars": [py, os.path.join(HERE, "groupby_polars.py"), args.dataset, *common],
            "duckdb": [py, os.path.join(HERE, "groupby_duckdb.py"), args.dataset, *common],
        }, args.repeat, check_groupby)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
