"""Zarr and HDF5 (issue 5): full reads, random reads and writes vs zarr-python and h5py."""

import subprocess

from harnesslib.common import size_text
from harnesslib.common import faster_than, rss_at_most
from harnesslib.data import h5_sha1, random_reads_sum, zarr_sha1
from harnesslib.model import Case, Contender, check_equal, last_json, require
from scenarios.scan_sum import parse_stats

NAME = "chunked"
TITLE = "Chunked arrays: Zarr v3 and HDF5"
ISSUE = 5
# None available: skipped before data generation.
LARDER_SUBS = [["bench", "read"], ["copy", "--chunks"]]
PEER = "chunked_peers.py"
DESCRIPTION = """
A float64 array of random values (`array_bytes`, the same data as the full-scan scenario) in
chunks of `chunk_elems` elements, warm page cache. Inputs for the read cases are written by
zarr-python (Zarr v3, zstd) and h5py (chunked, no filter), so every contender reads the same
files. Full read: read the whole array into memory and sum it (`larder bench read PATH`;
`chunked_peers.py`: zarr-python `z[:]`, h5py `d[()]`, then `.sum()`; dask `from_zarr().sum()`
out of core; also `larder stats PATH`, larder's streaming reduction over the chunks, which
keeps memory to a few chunks); random reads: `random_reads` reads of `read_len` contiguous elements at offsets
from a fixed seed, the same offsets file for every contender (`larder bench read --offsets`;
the peers `a[s:s + len].sum()` in a loop); write: from the `.npy` (`larder copy --chunks
--codec`; the peers assign the memory-mapped `.npy` to a new chunked array). Sums are checked
against the generator's values, written arrays by reading them back with zarr-python / h5py
and comparing a sha1 of their data with the source's. Each contender also reports the time of
the operation alone (`op_s`: without start-up, imports and opening).
"""


def op_metrics(d):
    return {"op_s": d["seconds"]} if isinstance(d.get("seconds"), (int, float)) else {}


def parse_full(run, ctx):
    d = last_json(run.stdout)
    require(d, "count", "sum", what="full-read JSON")
    return {"values": {"count": d["count"], "sum": float(d["sum"])}, "metrics": op_metrics(d)}


def parse_reads(run, ctx):
    d = last_json(run.stdout)
    require(d, "reads", "sum", what="random-read JSON")
    return {"values": {"reads": d["reads"], "sum": float(d["sum"])}, "metrics": op_metrics(d)}


def parse_write(run, ctx):
    d = last_json(run.stdout)
    return {"values": {}, "metrics": op_metrics(d)}


def probe_copy(ctx, tiny, ext, codec, magic_check):
    dst = ctx.scratch("chunked", f"probe{ext}")
    subprocess.run(["rm", "-rf", str(dst)])
    r = subprocess.run([ctx.larder, "copy", str(tiny.path), str(dst), "--chunks", "256",
                        "--codec", codec], capture_output=True, text=True)
    try:
        if r.returncode != 0:
            return f"`larder copy` cannot write {ext}: {r.stderr.strip()[-200:]}"
        if not magic_check(dst):
            return f"`larder copy` to {ext} did not write that format"
        return None
    finally:
        subprocess.run(["rm", "-rf", str(dst)])


def probe_stats(ctx, path):
    r = subprocess.run([ctx.larder, "stats", path, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`larder stats` cannot read {path.split('.')[-1]}: {r.stderr.strip()[-200:]}"
    return None


def probe_read(ctx, path):
    r = subprocess.run([ctx.larder, "bench", "read", path, "--json"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return (f"`larder bench read` cannot read {path.split('.')[-1]}: "
                f"{r.stderr.strip()[-200:]}")
    return None


def is_zarr(p):
    return (p / "zarr.json").exists()


def is_h5(p):
    with open(p, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def cases(ctx):
    nbytes, chunks = ctx.p("array_bytes"), ctx.p("chunk_elems")
    src = ctx.data("array_f64", nbytes=nbytes, seed=2)
    zarr_in = ctx.data("zarr_f64", nbytes=nbytes, seed=2, chunks=chunks, codec="zstd")
    h5_in = ctx.data("h5_f64", nbytes=nbytes, seed=2, chunks=chunks)
    n = src.meta["count"]
    length = ctx.p("read_len")
    offs = ctx.data("offsets", n_elements=n, count=ctx.p("random_reads"), length=length, seed=5)
    tiny = ctx.data("array_f64", nbytes=64 << 10, seed=99)
    tiny_zarr = ctx.data("zarr_f64", nbytes=64 << 10, seed=99, chunks=256, codec="zstd")
    tiny_h5 = ctx.data("h5_f64", nbytes=64 << 10, seed=99, chunks=256)
    size = size_text(src.meta["bytes"])
    sum_ref = {"count": n, "sum": src.meta["sum"]}
    reads_ref = {"reads": offs.meta["count"], "sum": random_reads_sum(src.path, offs.path,
                                                                      length)}
    write_ref = {"shape": [n], "data_sha1": src.meta["data_sha1"]}
    h5_path = f"{h5_in.path}:/data"
    out = []

    for fmt, inp, larder_path, tool, peer_path, tiny_path, sha, ext, codec, magic, mod in (
            ("zarr", zarr_in, str(zarr_in.path), "zarr", str(zarr_in.path),
             str(tiny_zarr.path), zarr_sha1, ".zarr", "zstd", is_zarr, "zarr"),
            ("hdf5", h5_in, h5_path, "h5py", h5_path, f"{tiny_h5.path}:/data",
             h5_sha1, ".h5", "none", is_h5, "h5py")):
        peer_name = "zarr-python" if fmt == "zarr" else "h5py"
        factor = {"read": 2.0, "random": 5.0, "write": 2.0} if fmt == "zarr" else \
            {"read": 1.0, "random": 1.0, "write": 1.0}

        def read_probe(ctx, p=tiny_path):
            return probe_read(ctx, p)

        def stats_probe(ctx, p=tiny_path):
            return probe_stats(ctx, p)

        out.append(Case(
            name=f"{fmt}_full_read",
            title=f"{fmt}: full read + sum, {size}",
            inputs=[inp.path], bytes_processed=src.meta["bytes"],
            check=lambda v: check_equal({"generator": sum_ref, **v}, {"count": 0, "sum": 1e-9}),
            contenders=[
                Contender("larder", ["{larder}", "bench", "read", larder_path, "--json"],
                          role="larder", larder_sub=["bench", "read"], larder_flags=["--json"],
                          parse=parse_full, probe=read_probe),
                Contender("larder stats", ["{larder}", "stats", larder_path, "--json"],
                          role="larder", larder_sub=["stats"], larder_flags=["--json"],
                          parse=parse_stats, probe=stats_probe,
                          note="streaming count, sum, mean, std, min, max over the chunks"),
                Contender(peer_name, ["{python}", ctx.peer(PEER), tool, "read", peer_path],
                          numpy=True, peer_script=PEER, parse=parse_full,
                          python_modules=[mod]),
                *([Contender("dask", ["{python}", ctx.peer(PEER), "dask", "read", peer_path],
                             numpy=True, peer_script=PEER, parse=parse_full,
                             python_modules=["dask", "zarr"],
                             note="dask.array.from_zarr(PATH).sum(), threaded scheduler")]
                  if fmt == "zarr" else []),
            ],
            targets=[faster_than(peer_name, factor["read"])]))

        out.append(Case(
            name=f"{fmt}_random_reads",
            title=f"{fmt}: {offs.meta['count']} random reads of {length} elements",
            inputs=[inp.path],
            check=lambda v: check_equal({"generator": reads_ref, **v}, {"reads": 0, "sum": 1e-9}),
            contenders=[
                Contender("larder", ["{larder}", "bench", "read", larder_path, "--offsets",
                                     str(offs.path), "--len", str(length), "--json"],
                          role="larder", larder_sub=["bench", "read"],
                          larder_flags=["--offsets", "--len", "--json"], parse=parse_reads,
                          probe=read_probe),
                Contender(peer_name, ["{python}", ctx.peer(PEER), tool, "random", peer_path,
                                      "--offsets", str(offs.path), "--len", str(length)],
                          numpy=True, peer_script=PEER, parse=parse_reads,
                          python_modules=[mod]),
            ],
            targets=[faster_than(peer_name, factor["random"])]))

        dst_l = ctx.scratch("chunked", f"larder{ext}")
        dst_p = ctx.scratch("chunked", f"peer{ext}")

        def verify(dst, sha=sha):
            return lambda ctx, values: sha(dst)

        def write_probe(ctx, ext=ext, codec=codec, magic=magic):
            return probe_copy(ctx, tiny, ext, codec, magic)

        out.append(Case(
            name=f"{fmt}_write",
            title=f"{fmt}: write {size} from .npy"
                  + (" (zstd)" if codec == "zstd" else " (no filter)"),
            inputs=[src.path], bytes_processed=src.meta["bytes"],
            check=lambda v: check_equal({"source": write_ref, **v},
                                        {"shape": 0, "data_sha1": 0}),
            contenders=[
                Contender("larder", ["{larder}", "copy", str(src.path), str(dst_l), "--chunks",
                                     str(chunks), "--codec", codec], role="larder",
                          larder_sub=["copy"], larder_flags=["--chunks", "--codec"],
                          probe=write_probe, verify=verify(dst_l), outputs=[dst_l]),
                Contender(peer_name, ["{python}", ctx.peer(PEER), tool, "write",
                                      str(src.path), str(dst_p), "--chunks", str(chunks),
                                      "--codec", codec],
                          numpy=True, peer_script=PEER, parse=parse_write, verify=verify(dst_p),
                          outputs=[dst_p], python_modules=[mod]),
            ],
            targets=[faster_than(peer_name, factor["write"]),
                     rss_at_most(256 << 20, text="`larder copy` peak RSS ≤ 256 MiB")]))
    return out
