#!/usr/bin/env python3
"""The peers of the object-storage scenario: zarr-python over obstore's S3 store, and a raw
PUT/GET loop that measures what the server itself can do (issue 18).

    s3_peers.py ENDPOINT BUCKET zarr write SRC.npy PREFIX --chunks N
    s3_peers.py ENDPOINT BUCKET zarr read PREFIX
    s3_peers.py ENDPOINT BUCKET zarr random PREFIX --offsets OFFS.npy --len L
    s3_peers.py ENDPOINT BUCKET raw TOTAL_BYTES --part BYTES
    s3_peers.py ENDPOINT BUCKET raw-read PREFIX
    s3_peers.py ENDPOINT BUCKET raw-random PREFIX --offsets OFFS.npy --len L --chunks N
    s3_peers.py ENDPOINT BUCKET delete PREFIX

- write: `np.load(SRC, mmap_mode="r")` assigned whole to a new 1-d Zarr v3 array of chunks of
  N elements, zstd (level 3, zarr-python's default `ZstdCodec`), through
  `zarr.storage.ObjectStore(S3Store(...))`. Prints `{"elements", "seconds"}`.
- read: `zarr.open_array(...)[:]`, then `.sum()`. Prints `{"count", "sum", "seconds"}`.
- random: for each start `s` in OFFS.npy, `array[s:s + L].sum()`, added up, one read after
  the other. Prints `{"reads", "elements", "sum", "seconds"}`.
- raw: TOTAL_BYTES of random bytes as objects of BYTES each, 16 PUTs in flight with obstore,
  then the same objects read back 16 GETs in flight. The server's ceiling: no encoding, no
  metadata. Prints `{"put_MBps", "get_MBps", "objects", "seconds"}` and deletes them.
- raw-read: every chunk object of the Zarr array at PREFIX (`PREFIX/c/...`) got with obstore,
  16 GETs in flight, no decoding: the server's ceiling for a full read of the same bytes.
  Prints `{"objects", "bytes", "get_MBps", "seconds"}`.
- raw-random: for each start `s` in OFFS.npy, one GET of each chunk object holding
  `[s, s + L)` (chunks of N elements, keys `c/<index>`), one read after the other, no
  decoding: the server's one-request-per-read ceiling. Prints `{"reads", "requests",
  "seconds"}`.
- delete: removes every object under PREFIX (used before each write run).

Credentials are the test ones moto accepts; `seconds` times the operation alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np


def s3(endpoint: str, bucket: str, prefix: str | None = None):
    from obstore.store import S3Store

    return S3Store(bucket, prefix=prefix, endpoint=endpoint, access_key_id="test",
                   secret_access_key="test", region="us-east-1",
                   client_options={"allow_http": True})


def zarr_store(endpoint: str, bucket: str, prefix: str, read_only: bool):
    from zarr.storage import ObjectStore

    return ObjectStore(s3(endpoint, bucket, prefix), read_only=read_only)


def delete(endpoint: str, bucket: str, prefix: str) -> dict:
    import obstore

    store = s3(endpoint, bucket)
    keys = [m["path"] for batch in obstore.list(store, prefix=prefix) for m in batch]
    if keys:
        obstore.delete(store, keys)
    return {"deleted": len(keys)}


def write(endpoint, bucket, src, prefix, chunks) -> dict:
    import zarr
    from zarr.codecs import ZstdCodec

    a = np.load(src, mmap_mode="r")
    t = time.perf_counter()
    z = zarr.create_array(zarr_store(endpoint, bucket, prefix, False), shape=a.shape,
                          chunks=(chunks,), dtype=a.dtype, compressors=ZstdCodec(level=3))
    z[:] = a
    return {"elements": int(a.size), "seconds": time.perf_counter() - t}


def read(endpoint, bucket, prefix) -> dict:
    import zarr

    z = zarr.open_array(zarr_store(endpoint, bucket, prefix, True), mode="r")
    t = time.perf_counter()
    data = z[:]
    s = float(data.sum())
    return {"count": int(data.size), "sum": s, "seconds": time.perf_counter() - t}


def random(endpoint, bucket, prefix, offsets, length) -> dict:
    import math

    import zarr

    z = zarr.open_array(zarr_store(endpoint, bucket, prefix, True), mode="r")
    starts = np.load(offsets)
    t = time.perf_counter()
    sums = [math.fsum(z[int(s):int(s) + length]) for s in starts]
    seconds = time.perf_counter() - t
    return {"reads": len(starts), "elements": len(starts) * length, "sum": math.fsum(sums),
            "seconds": seconds}


def raw(endpoint, bucket, total, part) -> dict:
    import obstore

    store = s3(endpoint, bucket)
    n = max(1, total // part)
    body = np.random.default_rng(18).integers(0, 256, size=part, dtype=np.uint8).tobytes()
    keys = [f"raw-ceiling/{i}" for i in range(n)]

    async def run(fn):
        sem = asyncio.Semaphore(16)

        async def one(k):
            async with sem:
                return await fn(k)

        return await asyncio.gather(*(one(k) for k in keys))

    async def put(k):
        await obstore.put_async(store, k, body)

    async def get(k):
        r = await obstore.get_async(store, k)
        return len(await r.bytes_async())

    t = time.perf_counter()
    asyncio.run(run(put))
    put_s = time.perf_counter() - t
    t = time.perf_counter()
    got = sum(asyncio.run(run(get)))
    get_s = time.perf_counter() - t
    obstore.delete(store, keys)
    if got != n * part:
        raise SystemExit(f"read {got} bytes back, wrote {n * part}")
    return {"objects": n, "put_MBps": n * part / put_s / 1e6, "get_MBps": got / get_s / 1e6,
            "seconds": put_s + get_s}


def raw_read(endpoint, bucket, prefix) -> dict:
    import obstore

    store = s3(endpoint, bucket)
    keys = [m["path"] for batch in obstore.list(store, prefix=f"{prefix}/c/") for m in batch]

    async def run():
        sem = asyncio.Semaphore(16)

        async def one(k):
            async with sem:
                r = await obstore.get_async(store, k)
                return len(await r.bytes_async())

        return await asyncio.gather(*(one(k) for k in keys))

    t = time.perf_counter()
    got = sum(asyncio.run(run()))
    seconds = time.perf_counter() - t
    return {"objects": len(keys), "bytes": got, "get_MBps": got / seconds / 1e6,
            "seconds": seconds}


def raw_random(endpoint, bucket, prefix, offsets, length, chunks) -> dict:
    import obstore

    store = s3(endpoint, bucket)
    starts = np.load(offsets)
    t = time.perf_counter()
    requests = 0
    for s in starts:
        for c in range(int(s) // chunks, (int(s) + length - 1) // chunks + 1):
            obstore.get(store, f"{prefix}/c/{c}").bytes()
            requests += 1
    return {"reads": len(starts), "requests": requests, "seconds": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("bucket")
    ap.add_argument("tool", choices=["zarr", "raw", "raw-read", "raw-random", "delete"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--chunks", type=int)
    ap.add_argument("--offsets")
    ap.add_argument("--len", type=int)
    ap.add_argument("--part", type=int, default=1 << 20)
    o = ap.parse_args()
    ep, b = o.endpoint, o.bucket
    if o.tool == "raw":
        out = raw(ep, b, int(o.args[0]), o.part)
    elif o.tool == "raw-read":
        out = raw_read(ep, b, o.args[0])
    elif o.tool == "raw-random":
        out = raw_random(ep, b, o.args[0], o.offsets, o.len, o.chunks)
    elif o.tool == "delete":
        out = delete(ep, b, o.args[0])
    elif o.args[0] == "write":
        out = write(ep, b, o.args[1], o.args[2], o.chunks)
    elif o.args[0] == "read":
        out = read(ep, b, o.args[1])
    else:
        out = random(ep, b, o.args[1], o.offsets, o.len)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
