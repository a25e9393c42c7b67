#!/usr/bin/env python3
"""`larder copy` of datetime64 and timedelta64 arrays against zarr-python and h5py: numpy writes
them in every unit larder knows (with NaT); larder copies each to Zarr v3 and HDF5; zarr-python
must read the Zarr copy as the same numpy array, h5py the HDF5 copy as int64 with the CF
attributes `units` (and `calendar` for times) that give back the same values; larder copies
both back to .npy with the dtype restored. And zarr-python's own datetime64 arrays copy to .npy
through larder.
Exits non-zero listing every mismatch.

    python check_datetime_copy.py LARDER_BIN WORK_DIR hdf5|no-hdf5
"""

import os
import subprocess
import sys

import numpy as np
import zarr

larder, work, hdf5 = sys.argv[1], sys.argv[2], sys.argv[3] == "hdf5"
problems = []
rng = np.random.default_rng(5)

CF = {"D": "days", "h": "hours", "m": "minutes", "s": "seconds", "ms": "milliseconds",
      "us": "microseconds", "ns": "nanoseconds"}


def copy(src, dst):
    subprocess.run([larder, "copy", src, dst], check=True, capture_output=True)


def same(name, got, want):
    if got.dtype != want.dtype or not np.array_equal(got, want, equal_nan=True):
        problems.append(f"{name}: got {got.dtype} {got[:3]}, want {want.dtype} {want[:3]}")


for unit in CF:
    a = (np.datetime64("2024-01-01", unit) + rng.integers(-10**6, 10**6, 3001).astype(f"m8[{unit}]"))
    a[5] = np.datetime64("NaT")
    src = os.path.join(work, f"{unit}.npy")
    np.save(src, a)

    z = os.path.join(work, f"{unit}.zarr")
    copy(src, z)
    same(f"zarr-python reads {unit}.zarr", zarr.open_array(z, mode="r")[:], a)
    back = os.path.join(work, f"{unit}_from_zarr.npy")
    copy(z, back)
    same(f"{unit}.zarr back to .npy", np.load(back), a)

    if hdf5:
        import h5py

        h = os.path.join(work, f"{unit}.h5")
        copy(src, h)
        with h5py.File(h, "r") as f:
            ds = f["data"]
            units, calendar = ds.attrs.get("units"), ds.attrs.get("calendar")
            if units != f"{CF[unit]} since 1970-01-01T00:00:00" or calendar != "proleptic_gregorian":
                problems.append(f"{unit}.h5: attributes units={units!r} calendar={calendar!r}")
            same(f"h5py reads {unit}.h5", ds[:].view(f"M8[{unit}]"), a)
        back = os.path.join(work, f"{unit}_from_h5.npy")
        copy(h, back)
        same(f"{unit}.h5 back to .npy", np.load(back), a)

    # Durations: numpy.timedelta64 in Zarr, `units = "<unit name>"` in HDF5.
    d = rng.integers(-10**6, 10**6, 1001).astype(f"m8[{unit}]")
    d[3] = np.timedelta64("NaT")
    src = os.path.join(work, f"td_{unit}.npy")
    np.save(src, d)
    z = os.path.join(work, f"td_{unit}.zarr")
    copy(src, z)
    same(f"zarr-python reads td_{unit}.zarr", zarr.open_array(z, mode="r")[:], d)
    back = os.path.join(work, f"td_{unit}_from_zarr.npy")
    copy(z, back)
    same(f"td_{unit}.zarr back to .npy", np.load(back), d)
    if hdf5:
        h = os.path.join(work, f"td_{unit}.h5")
        copy(src, h)
        with h5py.File(h, "r") as f:
            ds = f["data"]
            if ds.attrs.get("units") != CF[unit] or "calendar" in ds.attrs:
                problems.append(f"td_{unit}.h5: attributes {dict(ds.attrs)}")
            same(f"h5py reads td_{unit}.h5", ds[:].view(f"m8[{unit}]"), d)
        back = os.path.join(work, f"td_{unit}_from_h5.npy")
        copy(h, back)
        same(f"td_{unit}.h5 back to .npy", np.load(back), d)

# An array zarr-python wrote, chunked, read by larder.
w = os.path.join(work, "written_by_zarr_python.zarr")
a = np.arange("2020-01-01T00", "2020-03-01T00", dtype="M8[h]")
zw = zarr.create_array(w, shape=a.shape, chunks=(100,), dtype=a.dtype)
zw[:] = a
back = os.path.join(work, "from_zarr_python.npy")
copy(w, back)
same("zarr-python's datetime64[h] through larder", np.load(back), a)

if problems:
    print("\n".join(problems))
    sys.exit(1)
print("ok")
