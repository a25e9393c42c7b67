#!/usr/bin/env python3
"""Plot `larder bench cow --json` output: memory, disk and save time vs fraction modified.

Usage:
    larder bench cow --size 512M --json > cow.json
    cow_numpy.py --base DIR/base.npy > cow_numpy.json        (optional)
    plot_cow.py cow.json [--numpy cow_numpy.json] [-o docs/cow.png]

Three panels, log-log, one point per fraction (fraction 0 is left out):
  * memory: the clone's private bytes, against a full in-memory copy (numpy's
    .copy()) and the ideal (fraction x size);
  * disk: the delta file's size, against saving the whole array;
  * save time: save_delta, against writing the whole array from Rust and, when
    --numpy is given, numpy's np.save of the edited mmap_mode="c" array.
Needs matplotlib (pinned in scripts/requirements.txt).
"""

import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024.0 * 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("larder_json", help="output of `larder bench cow --json` ('-' for stdin)")
    ap.add_argument("--numpy", help="output of benches/peers/cow_numpy.py")
    ap.add_argument("-o", "--output", default="cow.png")
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args()

    src = sys.stdin if args.larder_json == "-" else open(args.larder_json)
    run = json.load(src)
    rows = [r for r in run["rows"] if r["fraction"] > 0]
    if not rows:
        raise SystemExit("no rows with a fraction above 0 to plot")
    size = run["file_bytes"]
    full = run["full_copy"]
    fr = [r["fraction"] for r in rows]

    npy = None
    if args.numpy:
        with open(args.numpy) as f:
            npy = json.load(f)
        npy_rows = {r["fraction"]: r for r in npy["rows"]}

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    title = "larder copy-on-write clone of a %.0f MiB array (%s pages of %d bytes, %s)" % (
        size / MIB, run["pages"], run["page_size"], run["pattern"])
    fig.suptitle(title)

    ax = axes[0]
    ax.plot(fr, [r["private_bytes"] / MIB for r in rows], "o-", label="clone: private memory")
    ax.plot(fr, [full["copy_bytes"] / MIB] * len(fr), "--", label="full copy (.copy())")
    ax.plot(fr, [f * size / MIB for f in fr], ":", label="ideal: fraction x size")
    ax.set_title("memory")
    ax.set_ylabel("MiB")

    ax = axes[1]
    ax.plot(fr, [r["delta_bytes"] / MIB for r in rows], "o-", label="delta file")
    ax.plot(fr, [full["save_bytes"] / MIB] * len(fr), "--", label="whole array saved")
    ax.set_title("on disk")
    ax.set_ylabel("MiB")

    ax = axes[2]
    ax.plot(fr, [r["save_seconds"] * 1e3 for r in rows], "o-", label="save_delta (fsync)")
    ax.plot(fr, [full["save_seconds"] * 1e3] * len(fr), "--", label="whole array, Rust (fsync)")
    if npy is not None:
        pts = [(f, npy_rows[f]["save_seconds"] * 1e3) for f in fr if f in npy_rows]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "s-",
                    label="numpy np.save of the edited copy")
    ax.set_title("save time")
    ax.set_ylabel("ms")

    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("fraction of pages modified")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=args.dpi)
    print(args.output)


if __name__ == "__main__":
    main()
