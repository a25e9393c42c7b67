#!/usr/bin/env python3
"""numpy's way to copy a .npy: `np.save(dst, np.load(src, mmap_mode="r"))`.

    python copy_numpy.py SRC DST

Prints one JSON line: {"elements": N, "dtype": "<f8", "shape": [N], "bytes": <size of DST>}.
"""

import json
import os
import sys

import numpy as np


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    a = np.load(src, mmap_mode="r")
    np.save(dst, a)
    print(json.dumps({"elements": int(a.size), "dtype": a.dtype.str, "shape": list(a.shape),
                      "bytes": os.path.getsize(dst)}))


if __name__ == "__main__":
    main()
