"""Writes the arrays examples/open_stores.rs opens, with zarr-python and h5py (the versions pinned
in scripts/requirements.txt): a 20 x 10 float32 array, i * 100 + j + 0.5, as Zarr v3 and v2 with
zstd, as an array inside a Zarr group, and as three datasets of one HDF5 file.

    python examples/open_stores.py DIR
"""

import pathlib
import sys

import h5py
import numcodecs
import numpy as np
import zarr
from zarr.codecs import ZstdCodec

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
a = (np.arange(20)[:, None] * 100 + np.arange(10) + 0.5).astype("<f4")
for name, fmt, zstd in [("v3.zarr", 3, ZstdCodec(level=3)), ("v2.zarr", 2, numcodecs.Zstd(level=3))]:
    z = zarr.create_array(out / name, shape=a.shape, chunks=(8, 8), dtype=a.dtype,
                          compressors=zstd, zarr_format=fmt, overwrite=True)
    z[:] = a
group = zarr.open_group(out / "group.zarr", mode="w")
group.create_group("g").create_array("x", shape=a.shape, chunks=(8, 8), dtype=a.dtype)[:] = a
with h5py.File(out / "t.h5", "w") as f:
    f.create_dataset("gzip", data=a, chunks=(8, 8), compression="gzip")
    f.create_dataset("contig", data=a)
    f.create_dataset("i32", data=a.astype("<i4"))
