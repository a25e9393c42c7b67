"""Deterministic benchmark inputs, generated once and cached under --data-dir.

Every data set is a function of its kind, its parameters and GENERATOR_VERSION; the file name
carries a hash of those, and a `<file>.meta.json` sidecar written last (after an atomic rename of
the data) says the data is complete and holds reference values (sums, counts, checksums) that
the scenarios check the contenders against. Data whose sidecar matches is reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GENERATOR_VERSION = 1
# Kinds changed since GENERATOR_VERSION 1, each with its own version, so that regenerating one
# kind does not regenerate the large arrays. dataset6 2: the manifest as `larder convert` writes
# it (source path and bytes, rows_read, version), which `larder groupby` reads strictly.
KIND_VERSIONS = {"dataset6": 2}
CHUNK = 1 << 20  # elements (or rows) generated per step

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
    "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-southeast-1", "sa-east-1",
]
STATUSES = np.array([200, 201, 204, 301, 304, 400, 403, 404, 500, 503], dtype=np.int64)
STATUS_P = np.array([0.70, 0.05, 0.03, 0.02, 0.05, 0.03, 0.02, 0.06, 0.03, 0.01])
T0 = 1_700_000_000


@dataclass
class Data:
    path: Path
    meta: dict


def data_sha1(path: Path, offset: int = 0) -> str:
    """sha1 of a file's bytes from `offset` on (for .npy: the data after the header)."""
    h = hashlib.sha1()
    buf = bytearray(16 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while n := f.readinto(view):
            h.update(view[:n])
    return h.hexdigest()


def npy_data_offset(path: Path) -> int:
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        return f.tell()


def npy_data_sha1(path: Path) -> str:
    return data_sha1(path, npy_data_offset(path))


class DataGen:
    def __init__(self, root: Path, log) -> None:
        self.root = root
        self.log = log
        root.mkdir(parents=True, exist_ok=True)

    def get(self, kind: str, **params: Any) -> Data:
        gen = getattr(self, f"_gen_{kind}")
        key = {"kind": kind, "version": GENERATOR_VERSION, **params}
        if kind in KIND_VERSIONS:
            key["kind_version"] = KIND_VERSIONS[kind]
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        ext = {"array_f64": ".npy", "offsets": ".npy", "csv2": ".csv", "csv6": ".csv",
               "dataset6": "", "zarr_f64": ".zarr", "h5_f64": ".h5", "requestlog": ".csv",
               "requestlog_gz": ".csv.gz", "requestlog_zst": ".csv.zst"}[kind]
        path = self.root / f"{kind}-{digest}{ext}"
        meta_path = path.with_name(path.name + ".meta.json")
        if meta_path.exists() and path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("key") == key:
                return Data(path, meta)
        need = {"array_f64": 1.0, "zarr_f64": 1.0, "h5_f64": 1.0}.get(kind, 0) * params.get(
            "nbytes", 0) + {"csv2": 12, "csv6": 50, "dataset6": 42, "requestlog": 135,
                      "requestlog_gz": 30, "requestlog_zst": 30}.get(kind, 0) * params.get(
            "rows", 0)
        st = os.statvfs(self.root)
        free = st.f_bavail * st.f_frsize
        if need + (1 << 30) > free:
            raise RuntimeError(f"{self.root}: {kind} {params} needs about {need / 2**30:.1f} GiB, "
                               f"only {free / 2**30:.1f} GiB free (keep 1 GiB spare)")
        self.log(f"generating {kind} {params} -> {path}")
        tmp = path.with_name(path.name + ".partial")
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()
        meta = gen(tmp, **params)
        meta["key"] = key
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
        meta_path.write_text(json.dumps(meta, indent=1))
        return Data(path, meta)

    # ---- kinds ---------------------------------------------------------------------------------

    @staticmethod
    def _gen_array_f64(tmp: Path, nbytes: int, seed: int) -> dict:
        """1-D float64 .npy of uniform [0, 1) values, `nbytes` of data."""
        n = nbytes // 8
        rng = np.random.default_rng(seed)
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype="<f8", shape=(n,))
        sums = []
        for start in range(0, n, CHUNK):
            block = rng.random(min(CHUNK, n - start))
            arr[start:start + len(block)] = block
            sums.append(math.fsum(block))
        arr.flush()
        del arr
        return {"count": n, "bytes": n * 8, "sum": math.fsum(sums),
                "data_sha1": npy_data_sha1(tmp)}

    def _gen_zarr_f64(self, tmp: Path, nbytes: int, seed: int, chunks: int, codec: str) -> dict:
        """The array_f64 data as a Zarr v3 array written by zarr-python (`codec`: zstd|none)."""
        import zarr
        from zarr.codecs import ZstdCodec

        src = self.get("array_f64", nbytes=nbytes, seed=seed)
        a = np.load(src.path, mmap_mode="r")
        compressors = [ZstdCodec()] if codec == "zstd" else None
        z = zarr.create_array(store=str(tmp), shape=a.shape, chunks=(chunks,), dtype="<f8",
                              compressors=compressors, zarr_format=3)
        step = max(chunks, (64 << 20) // 8 // chunks * chunks)
        for i in range(0, a.shape[0], step):
            z[i:i + step] = a[i:i + step]
        return {**src.meta, "chunks": chunks, "codec": codec}

    def _gen_h5_f64(self, tmp: Path, nbytes: int, seed: int, chunks: int) -> dict:
        """The array_f64 data as HDF5 dataset `/data` (chunked, no filter), written by h5py."""
        import h5py

        src = self.get("array_f64", nbytes=nbytes, seed=seed)
        a = np.load(src.path, mmap_mode="r")
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset("data", shape=a.shape, dtype="<f8", chunks=(chunks,))
            step = max(chunks, (64 << 20) // 8 // chunks * chunks)
            for i in range(0, a.shape[0], step):
                d[i:i + step] = a[i:i + step]
        return {**src.meta, "chunks": chunks, "dataset": "/data"}

    @staticmethod
    def _gen_offsets(tmp: Path, n_elements: int, count: int, length: int, seed: int) -> dict:
        """`count` random start offsets of `length`-element reads in an array of `n_elements`."""
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, max(1, n_elements - length + 1), size=count, dtype=np.int64)
        with open(tmp, "wb") as f:
            np.save(f, starts)
        return {"count": count, "length": length, "n_elements": n_elements}

    @staticmethod
    def _table2_chunks(rows: int, seed: int):
        rng = np.random.default_rng(seed)
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            yield {
                "machine": rng.integers(0, 1000, size=n, dtype=np.int64),
                "duration": rng.integers(1, 10_000, size=n, dtype=np.int64) / 1000.0,
            }

    @staticmethod
    def _table6_chunks(rows: int, seed: int):
        rng = np.random.default_rng(seed)
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            yield {
                "timestamp": T0 + rng.integers(0, 30 * 86_400, size=n, dtype=np.int64),
                "machine": rng.integers(0, 1000, size=n, dtype=np.int64),
                "region": rng.integers(0, len(REGIONS), size=n, dtype=np.int64).astype(np.uint8),
                "status": STATUSES[rng.choice(len(STATUSES), size=n, p=STATUS_P)],
                "duration": rng.integers(1, 100_000, size=n, dtype=np.int64) / 1000.0,
                "bytes": rng.integers(0, 1_000_000, size=n, dtype=np.int64),
            }

    @staticmethod
    def _reference(chunks) -> dict:
        """Row count, per-column sums (exact for ints, fsum for floats), category counts and
        the group-by reference (by region: count, sum:duration, mean:duration, max:bytes)."""
        rows = 0
        sums: dict[str, Any] = {}
        cats = None
        groups = None
        for c in chunks:
            rows += len(next(iter(c.values())))
            for k, v in c.items():
                if k == "region":
                    bc = np.bincount(v, minlength=len(REGIONS))
                    cats = bc if cats is None else cats + bc
                    continue
                if v.dtype.kind == "f":
                    sums.setdefault(k, []).append(math.fsum(v))
                else:
                    sums[k] = sums.get(k, 0) + int(v.sum())
            if "region" in c:
                r = c["region"]
                cnt = np.bincount(r, minlength=len(REGIONS))
                dsum = [math.fsum(c["duration"][r == g]) for g in range(len(REGIONS))]
                bmax = np.full(len(REGIONS), -1, dtype=np.int64)
                np.maximum.at(bmax, r, c["bytes"])
                if groups is None:
                    groups = {"count": cnt, "dsum": [[x] for x in dsum], "bmax": bmax}
                else:
                    groups["count"] = groups["count"] + cnt
                    for g in range(len(REGIONS)):
                        groups["dsum"][g].append(dsum[g])
                    groups["bmax"] = np.maximum(groups["bmax"], bmax)
        out: dict[str, Any] = {"rows": rows, "sums": {
            k: (math.fsum(v) if isinstance(v, list) else v) for k, v in sums.items()}}
        if cats is not None:
            out["category_counts"] = {"region": {REGIONS[i]: int(n) for i, n in enumerate(cats)
                                                 if n}}
        if groups is not None:
            g_out = {}
            for g, name in enumerate(REGIONS):
                cnt = int(groups["count"][g])
                if not cnt:
                    continue
                s = math.fsum(groups["dsum"][g])
                g_out[name] = {"count": cnt, "sum:duration": s, "mean:duration": s / cnt,
                               "max:bytes": int(groups["bmax"][g])}
            out["groupby_region"] = g_out
        return out

    def _write_csv(self, tmp: Path, chunks) -> None:
        import polars as pl

        with open(tmp, "wb") as f:
            for i, c in enumerate(chunks):
                cols = dict(c)
                if "region" in cols:
                    cols["region"] = np.array(REGIONS, dtype=object)[cols["region"]]
                pl.DataFrame(cols).write_csv(f, include_header=(i == 0))

    def _gen_csv2(self, tmp: Path, rows: int, seed: int) -> dict:
        """`machine,duration` CSV (the request-log example of issue 4)."""
        self._write_csv(tmp, self._table2_chunks(rows, seed))
        ref = self._reference(self._table2_chunks(rows, seed))
        return {**ref, "bytes": tmp.stat().st_size, "columns": ["machine", "duration"]}

    def _gen_csv6(self, tmp: Path, rows: int, seed: int) -> dict:
        """`timestamp,machine,region,status,duration,bytes` CSV; region has 12 categories."""
        self._write_csv(tmp, self._table6_chunks(rows, seed))
        ref = self._reference(self._table6_chunks(rows, seed))
        return {**ref, "bytes": tmp.stat().st_size,
                "columns": ["timestamp", "machine", "region", "status", "duration", "bytes"]}

    @staticmethod
    def _gen_requestlog(tmp: Path, rows: int, seed: int) -> dict:
        """The request log of the `convert_log` scenario (`harnesslib/requestlog.py`)."""
        from harnesslib import requestlog

        return requestlog.write(tmp, rows, seed)

    def _gen_requestlog_gz(self, tmp: Path, rows: int, seed: int) -> dict:
        """The request log, gzip-compressed (level 6, as `gzip` does by default; one member)."""
        import gzip

        src = self.get("requestlog", rows=rows, seed=seed)
        with open(src.path, "rb") as f, gzip.open(tmp, "wb", compresslevel=6) as out:
            while block := f.read(16 << 20):
                out.write(block)
        return {**src.meta, "bytes_packed": tmp.stat().st_size, "codec": "gzip"}

    def _gen_requestlog_zst(self, tmp: Path, rows: int, seed: int) -> dict:
        """The request log, zstd-compressed (Arrow's default level, 1; one frame)."""
        import pyarrow as pa

        src = self.get("requestlog", rows=rows, seed=seed)
        with open(src.path, "rb") as f, pa.CompressedOutputStream(str(tmp), "zstd") as out:
            while block := f.read(16 << 20):
                out.write(block)
        return {**src.meta, "bytes_packed": tmp.stat().st_size, "codec": "zstd"}

    def _gen_dataset6(self, tmp: Path, rows: int, seed: int) -> dict:
        """The csv6 table as a converted dataset directory (manifest.json + one .npy per
        column, the layout `larder convert` writes), made directly with numpy."""
        tmp.mkdir()
        dtypes = {"timestamp": "<i8", "machine": "<i8", "region": "|u1", "status": "<i8",
                  "duration": "<f8", "bytes": "<i8"}
        arrays = {k: np.lib.format.open_memmap(tmp / f"{k}.npy", mode="w+", dtype=dt,
                                               shape=(rows,)) for k, dt in dtypes.items()}
        pos = 0
        for c in self._table6_chunks(rows, seed):
            n = len(c["machine"])
            for k, v in c.items():
                arrays[k][pos:pos + n] = v
            pos += n
        for a in arrays.values():
            a.flush()
        del arrays
        columns = []
        for k, dt in dtypes.items():
            col = {"name": k, "file": f"{k}.npy", "dtype": dt}
            if k == "region":
                col["categories"] = REGIONS
            columns.append(col)
        manifest = {"columns": columns, "rows": rows, "rejected": 0, "rows_read": rows,
                    "source": {"path": "generated by benches/peers/harnesslib/data.py",
                               "bytes": 0},
                    "version": 1}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        ref = self._reference(self._table6_chunks(rows, seed))
        return {**ref, "columns": list(dtypes)}


def blocks_sha1(arr, step: int = 8 << 20) -> str:
    """sha1 of the little-endian float64 bytes of a 1-D array-like (zarr, h5py, numpy),
    read `step` elements at a time."""
    h = hashlib.sha1()
    for i in range(0, arr.shape[0], step):
        h.update(np.ascontiguousarray(arr[i:i + step], dtype="<f8").tobytes())
    return h.hexdigest()


def zarr_sha1(path: Path) -> dict:
    import zarr

    z = zarr.open_array(str(path), mode="r")
    return {"shape": list(z.shape), "data_sha1": blocks_sha1(z)}


def h5_sha1(path: Path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        found = []
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset)
                     else None)
        if len(found) != 1:
            raise ValueError(f"{path}: expected one dataset, found {found}")
        d = f[found[0]]
        return {"shape": list(d.shape), "data_sha1": blocks_sha1(d)}


def random_reads_sum(npy: Path, offsets: Path, length: int) -> float:
    a = np.load(npy, mmap_mode="r")
    starts = np.load(offsets)
    return math.fsum(math.fsum(a[s:s + length]) for s in starts)


def read_dataset(path: Path, categorical: tuple[str, ...] = ()) -> dict:
    """Reads a converted dataset directory: rows, per-column sums and category counts, in the
    same form as DataGen._reference, so that outputs of every contender compare alike.

    With a `manifest.json` (larder's layout) its columns, files and categories are used. Without
    one, every `NAME.npy` in the directory is column NAME, and the columns named in
    `categorical` hold integer codes whose labels are unknown: only their sizes can be compared
    (`category_sizes`, the sorted counts per code, which every output reports)."""
    mpath = path / "manifest.json"
    if mpath.exists():
        manifest = json.loads(mpath.read_text())
        columns = manifest["columns"]
    else:
        manifest = {"rows": None}
        columns = [{"name": p.stem, "file": p.name,
                    "categories": None if p.stem not in categorical else []}
                   for p in sorted(path.glob("*.npy"))]
    out: dict[str, Any] = {"rows": manifest.get("rows"), "sums": {}, "category_counts": {},
                           "category_sizes": {}, "dtypes": {}}
    lengths = set()
    for col in columns:
        arr = np.load(path / col["file"], mmap_mode="r")
        lengths.add(arr.shape[0])
        out["dtypes"][col["name"]] = arr.dtype.str
        if "categories" in col and col["categories"] is not None:
            if arr.dtype.kind not in "iu":
                raise ValueError(f"{path / col['file']}: categorical codes of dtype {arr.dtype}")
            counts = np.bincount(np.asarray(arr, dtype=np.int64),
                                 minlength=len(col["categories"]))
            out["category_sizes"][col["name"]] = sorted(int(n) for n in counts if n)
            if col["categories"]:
                if len(counts) > len(col["categories"]):
                    raise ValueError(f"{path / col['file']}: code {len(counts) - 1} has no "
                                     f"category ({len(col['categories'])} listed)")
                out["category_counts"][col["name"]] = {
                    str(c): int(n) for c, n in zip(col["categories"], counts) if n}
        elif arr.dtype.kind == "f":
            out["sums"][col["name"]] = math.fsum(
                math.fsum(arr[i:i + CHUNK]) for i in range(0, arr.shape[0], CHUNK))
        elif arr.dtype.kind == "b":
            out["sums"][col["name"]] = int(np.count_nonzero(arr))
        else:
            out["sums"][col["name"]] = sum(
                int(arr[i:i + CHUNK].sum(dtype=np.int64)) for i in range(0, arr.shape[0], CHUNK))
    if len(lengths) > 1:
        out["column_lengths_differ"] = sorted(lengths)
    if out["rows"] is None and lengths:
        out["rows"] = lengths.pop()
    return out


if __name__ == "__main__":  # tiny self-check: python data.py DIR
    g = DataGen(Path(sys.argv[1]), print)
    print(g.get("csv6", rows=1000, seed=1).meta["groupby_region"]["eu-west-1"])
