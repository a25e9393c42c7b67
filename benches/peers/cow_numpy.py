#!/usr/bin/env python3
"""The numpy side of `larder bench cow`: what keeping an edited copy costs with numpy.

Usage:
    cow_numpy.py --base BASE.npy [--fractions 0.001,0.01,0.1,0.5,1]
                 [--pattern strided|random|contiguous] [--seed 42] [--dir DIR]
                 [--mode both|save|copy]
    cow_numpy.py --size BYTES ... (writes its own base: arange as <f8)

BASE.npy must be a 1-d <f8 array; `larder bench cow --keep DIR` leaves one at
DIR/base.npy, so both tools can edit the same file in one run.

For each fraction this does the only thing numpy offers to keep changes to a
memory-mapped array: np.load(mmap_mode="c"), edit one element in each selected
page (the very pages larder edits: the selection below mirrors
select_pages in src/bench/pattern.rs), then np.save of the whole array. It also
measures arr.copy(), the in-memory alternative. `--mode save` does only the
former (copy_seconds and copy_bytes are then null), `--mode copy` only the
latter (rows is then empty), so that a benchmark can time each way as a
process of its own. Prints one JSON object:

    {"tool": "numpy", "numpy": VERSION, "file_bytes", "page_size", "pages",
     "pattern", "seed", "copy_seconds", "copy_bytes",
     "rows": [{"fraction", "pages_written", "clone_seconds", "write_seconds",
               "rss_anon_growth_bytes", "save_seconds", "save_bytes",
               "verified"}]}

rss_anon_growth_bytes is the growth of RssAnon (/proc/self/status) over the
edits, null where that file does not exist. np.save does not fsync; larder's
save_delta does, so the comparison favours numpy.
"""

import argparse
import json
import math
import mmap
import os
import sys
import tempfile
import time

import numpy as np

MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def select_pages(pages, fraction, pattern, seed):
    """Mirror of select_pages in src/bench/pattern.rs."""
    fraction = min(max(fraction, 0.0), 1.0)
    n = min(pages, math.ceil(fraction * pages))
    if pattern == "strided":
        return [i * pages // n for i in range(n)]
    if pattern == "contiguous":
        start = (pages - n) // 2
        return list(range(start, start + n))
    if pattern == "random":
        state = seed
        chosen = bytearray(pages)
        for j in range(pages - n, pages):
            state, r = splitmix64(state)
            t = r % (j + 1)
            if chosen[t]:
                chosen[j] = 1
            else:
                chosen[t] = 1
        return [i for i in range(pages) if chosen[i]]
    raise SystemExit("unknown pattern %r" % pattern)


def element_in_page(page, offset, page_size):
    return -(-max(page * page_size - offset, 0) // 8)


def rss_anon():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base")
    ap.add_argument("--size", type=int)
    ap.add_argument("--fractions", default="0.001,0.01,0.1,0.5,1")
    ap.add_argument("--pattern", default="strided",
                    choices=["strided", "random", "contiguous"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir")
    ap.add_argument("--mode", default="both", choices=["both", "save", "copy"],
                    help="measure both ways (default), only mmap_mode='c' + np.save, or only "
                         ".copy()")
    args = ap.parse_args()
    if (args.base is None) == (args.size is None):
        ap.error("give exactly one of --base and --size")

    tmp = None
    if args.dir:
        work = args.dir
        os.makedirs(work, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cow-numpy-")
        work = tmp.name
    base = args.base
    if base is None:
        base = os.path.join(work, "numpy-base.npy")
        np.save(base, np.arange(args.size // 8, dtype="<f8"))

    page_size = mmap.PAGESIZE
    file_bytes = os.path.getsize(base)
    probe = np.load(base, mmap_mode="r")
    if probe.dtype != np.dtype("<f8") or probe.ndim != 1:
        raise SystemExit("%s: expected a 1-d <f8 array, found %s %s"
                         % (base, probe.dtype, probe.shape))
    offset = probe.offset
    # Pages holding data only, as data_pages in src/bench/cow.rs: not the header's, nor those
    # of bytes after the data.
    first = offset // page_size
    pages = -(-(offset + probe.size * 8) // page_size) - first
    del probe

    copy_seconds = copy_bytes = None
    if args.mode in ("both", "copy"):
        t = time.perf_counter()
        owned = np.load(base, mmap_mode="r").copy()
        copy_seconds = time.perf_counter() - t
        copy_bytes = owned.nbytes
        del owned

    rows = []
    fractions = [float(x) for x in args.fractions.split(",") if x]
    for f in fractions if args.mode in ("both", "save") else []:
        chosen = [p + first for p in select_pages(pages, f, args.pattern, args.seed)]
        t = time.perf_counter()
        arr = np.load(base, mmap_mode="c")
        clone_seconds = time.perf_counter() - t
        before = rss_anon()
        t = time.perf_counter()
        for p in chosen:
            arr[element_in_page(p, offset, page_size)] = p + 0.5
        write_seconds = time.perf_counter() - t
        after = rss_anon()
        out = os.path.join(work, "numpy-%s.npy" % f)
        t = time.perf_counter()
        np.save(out, arr)
        save_seconds = time.perf_counter() - t
        save_bytes = os.path.getsize(out)
        del arr
        check = np.load(out, mmap_mode="r")
        verified = all(check[element_in_page(p, offset, page_size)] == p + 0.5
                       for p in chosen)
        del check
        if not args.dir:
            os.remove(out)
        rows.append({
            "fraction": f,
            "pages_written": len(chosen),
            "clone_seconds": clone_seconds,
            "write_seconds": write_seconds,
            "rss_anon_growth_bytes": (after - before)
            if before is not None and after is not None else None,
            "save_seconds": save_seconds,
            "save_bytes": save_bytes,
            "verified": bool(verified),
        })

    json.dump({
        "tool": "numpy",
        "numpy": np.__version__,
        "file_bytes": file_bytes,
        "page_size": page_size,
        "pages": pages,
        "pattern": args.pattern,
        "seed": args.seed,
        "copy_seconds": copy_seconds,
        "copy_bytes": copy_bytes,
        "rows": rows,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
