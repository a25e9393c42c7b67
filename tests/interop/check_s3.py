#!/usr/bin/env python3
"""Object-storage interop: zarr-python (over obstore's S3 store) against a local S3 server.

    check_s3.py ENDPOINT BUCKET read KEY SRC.npy [KEY SRC.npy ...]
    check_s3.py ENDPOINT BUCKET write DIR

`read`: each KEY is something larder wrote to the bucket: a Zarr v3 array (KEY ending in
.zarr, read with zarr.open_array over zarr.storage.ObjectStore) or an .npy object (fetched
with obstore and read with numpy); its values must equal numpy's reading of SRC.npy exactly
(NaN equal to NaN), and a Zarr array's metadata must be format 3.

`write`: zarr-python writes three arrays to the bucket for larder to read, and the same
values as DIR/NAME.npy: py-plain.zarr (float32, zstd), py-sharded.zarr (int64, sharded)
and py-v2.zarr (Zarr format 2, int16). Prints one line per array; exits 1 on a mismatch.
"""

import io
import json
import sys

import numpy as np
import obstore
import zarr
from obstore.store import S3Store
from zarr.storage import ObjectStore


def store(endpoint, bucket, prefix=None):
    return S3Store(
        bucket,
        prefix=prefix,
        endpoint=endpoint,
        access_key_id="test",
        secret_access_key="test",
        region="us-east-1",
        client_options={"allow_http": True},
    )


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False, f"shape {a.shape} != {b.shape}"
    if a.dtype.newbyteorder("=") != b.dtype.newbyteorder("="):
        return False, f"dtype {a.dtype} != {b.dtype}"
    ok = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    return ok, "" if ok else "values differ"


def read(endpoint, bucket, pairs):
    for key, src in pairs:
        want = np.load(src)
        if key.endswith(".zarr"):
            s = store(endpoint, bucket, key)
            meta = json.loads(bytes(obstore.get(s, "zarr.json").bytes()))
            if meta.get("zarr_format") != 3 or meta.get("node_type") != "array":
                print(f"FAIL {key}: not a Zarr v3 array: {meta}")
                return 1
            got = zarr.open_array(ObjectStore(s, read_only=True), mode="r")[...]
        else:
            raw = bytes(obstore.get(store(endpoint, bucket), key).bytes())
            got = np.load(io.BytesIO(raw))
        ok, why = same(got, want)
        print(f"{'ok' if ok else 'FAIL'} {key} {src} {why}")
        if not ok:
            return 1
    return 0


def write(endpoint, bucket, out_dir):
    rng = np.random.default_rng(18)
    arrays = {
        "py-plain": (rng.standard_normal((300, 70)).astype("<f4"), {"chunks": (64, 32)}),
        "py-sharded": (
            np.arange(100 * 50, dtype="<i8").reshape(100, 50) * 7 - 1000,
            {"chunks": (10, 25), "shards": (40, 50)},
        ),
        "py-v2": (
            rng.integers(-30000, 30000, size=(33, 17)).astype("<i2"),
            {"chunks": (8, 8), "zarr_format": 2},
        ),
    }
    for name, (values, layout) in arrays.items():
        s = ObjectStore(store(endpoint, bucket, f"{name}.zarr"))
        z = zarr.create_array(s, shape=values.shape, dtype=values.dtype, **layout)
        z[...] = values
        np.save(f"{out_dir}/{name}.npy", values)
        print(f"wrote {name}.zarr {values.shape} {values.dtype}")
    return 0


def main(argv):
    endpoint, bucket, mode, *rest = argv
    if mode == "read":
        return read(endpoint, bucket, list(zip(rest[::2], rest[1::2])))
    if mode == "write":
        return write(endpoint, bucket, rest[0])
    print(f"unknown mode {mode}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
