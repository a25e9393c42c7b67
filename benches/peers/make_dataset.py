#!/usr/bin/env python3
"""Writes a converted-style dataset for the group-by benchmark, with a fixed seed:

    python make_dataset.py OUT_DIR [--rows 10000000] [--groups 12]

Columns: product (uint8 categorical codes, GROUPS categories), duration (float64), bytes
(int64), region (int16, values -2..2); OUT_DIR/manifest.json as `larder convert` writes it.
"""

import argparse
import json
import os

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--groups", type=int, default=12)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20260601)
    n = args.rows
    cols = {
        "product": rng.integers(0, args.groups, n, dtype=np.uint8),
        "duration": rng.exponential(2.5, n),
        "bytes": rng.integers(0, 1 << 40, n, dtype=np.int64),
        "region": rng.integers(-2, 3, n, dtype=np.int16),
    }
    manifest = {"columns": [], "rows": n, "rejected": 0,
                "source": {"generator": "benches/peers/make_dataset.py", "seed": 20260601}}
    for name, a in cols.items():
        np.save(os.path.join(args.out, f"{name}.npy"), a)
        c = {"name": name, "file": f"{name}.npy", "dtype": a.dtype.str}
        if name == "product":
            c["categories"] = [f"product-{i:02d}" for i in range(args.groups)]
        manifest["columns"].append(c)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()
