"""Object storage (issue 18): Zarr on a local S3 server, larder vs zarr-python over obstore."""

import atexit
import hashlib
import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

from harnesslib.common import faster_than, rss_at_most, size_text
from harnesslib.data import random_reads_sum
from harnesslib.model import Case, Contender, check_equal, last_json, require

NAME = "s3"
TITLE = "Object storage: Zarr on a local S3 server"
ISSUE = 18
LARDER_SUBS = [["copy"], ["bench", "read"]]
PEER = "s3_peers.py"
BUCKET = "larder-bench"
DESCRIPTION = """
A float64 array of random values (`s3_bytes`) in chunks of `chunk_elems` elements, zstd level
3, on `moto_server` (the `moto[server]` package of the venv) started by the harness on a free
loopback port: the same server, codec and chunking for every contender. Upload: from the
`.npy` to a new Zarr array in the bucket (`larder copy SRC s3://…`; zarr-python assigns the
memory-mapped `.npy` to a new array on `zarr.storage.ObjectStore(obstore S3Store)`); the
prefix is emptied before each run, untimed. Full read: the whole array into memory, summed
(`larder bench read s3://…`; zarr-python `z[:]`); random reads: `random_reads` reads of
`read_len` elements at offsets from a fixed seed, one after the other. The read input is
written once by zarr-python. The raw rows are the server's ceiling, obstore with no encoding:
for the upload, objects of one chunk's compressed size put and got 16 at a time; for the full
read, the input's own chunk objects got 16 at a time; for the random reads, one GET of each
chunk object a read covers, one read after the other. moto keeps objects in its
Python process's memory and answers from one Python server, so it is the server, not the
network, that bounds every contender here; read the ratios against the raw row. Uploads are
checked by reading them back with zarr-python (sha1 of the data), reads by their sums.
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(python):
    """moto_server on a free port with the bucket made; stopped when the harness exits."""
    port = free_port()
    proc = subprocess.Popen([python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        proc.kill()
        proc.wait()

    atexit.register(stop)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("moto_server did not start (is moto[server] in the venv?)")
            time.sleep(0.1)
    req = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
    urllib.request.urlopen(req, timeout=10).read()
    return endpoint


def s3_env():
    return {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}


def run_peer(ctx, endpoint, *args):
    r = subprocess.run([ctx.python, ctx.peer(PEER), endpoint, BUCKET, *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{PEER} {' '.join(args)}: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def s3_sha1(endpoint, prefix):
    """shape and sha1 of the little-endian float64 data of the Zarr array at PREFIX."""
    import zarr
    from obstore.store import S3Store
    from zarr.storage import ObjectStore

    store = S3Store(BUCKET, prefix=prefix, endpoint=endpoint, access_key_id="test",
                    secret_access_key="test", region="us-east-1",
                    client_options={"allow_http": True})
    z = zarr.open_array(ObjectStore(store, read_only=True), mode="r")
    h = hashlib.sha1()
    step = 8 << 20
    for i in range(0, z.shape[0], step):
        h.update(np.ascontiguousarray(z[i:i + step], dtype="<f8").tobytes())
    return {"shape": list(z.shape), "data_sha1": h.hexdigest()}


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
    return {"values": {}, "metrics": op_metrics(last_json(run.stdout) if run.stdout else {})}


def parse_raw(run, ctx):
    d = last_json(run.stdout)
    require(d, "put_MBps", "get_MBps", what="raw loop JSON")
    return {"values": {}, "metrics": {"put_MBps": d["put_MBps"], "get_MBps": d["get_MBps"],
                                      "op_s": d["seconds"]}}


def parse_raw_read(run, ctx):
    d = last_json(run.stdout)
    require(d, "get_MBps", "seconds", what="raw read JSON")
    return {"values": {}, "metrics": {"get_MBps": d["get_MBps"], "op_s": d["seconds"]}}


def parse_raw_random(run, ctx):
    d = last_json(run.stdout)
    require(d, "requests", "seconds", what="raw random JSON")
    return {"values": {}, "metrics": {"requests": d["requests"], "op_s": d["seconds"]}}


def cases(ctx):
    try:
        import obstore  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as e:
        return [Case(name="s3", title=TITLE, contenders=[], skip=f"needs obstore and zarr: {e}")]
    nbytes, chunks = ctx.p("s3_bytes"), ctx.p("chunk_elems")
    src = ctx.data("array_f64", nbytes=nbytes, seed=2)
    n = src.meta["count"]
    length = ctx.p("read_len")
    offs = ctx.data("offsets", n_elements=n, count=ctx.p("random_reads"), length=length, seed=5)
    endpoint = start_moto(ctx.python)
    env = s3_env()
    ep = ["--endpoint", endpoint]
    # The read input, written once by zarr-python.
    run_peer(ctx, endpoint, "zarr", "write", str(src.path), "input.zarr", "--chunks", str(chunks))
    size = size_text(src.meta["bytes"])
    sum_ref = {"count": n, "sum": src.meta["sum"]}
    reads_ref = {"reads": offs.meta["count"],
                 "sum": random_reads_sum(src.path, offs.path, length)}
    write_ref = {"shape": [n], "data_sha1": src.meta["data_sha1"]}
    url = f"s3://{BUCKET}/"

    def emptied(prefix):
        return lambda ctx: run_peer(ctx, endpoint, "delete", prefix)

    def verify(prefix):
        return lambda ctx, values: s3_sha1(endpoint, prefix)

    # One chunk's compressed size is about its raw size: the values are random.
    part = chunks * 8
    return [
        Case(name="s3_upload", title=f"upload {size} to Zarr on S3 (zstd)", inputs=[src.path],
             bytes_processed=src.meta["bytes"],
             check=lambda v: check_equal({"source": write_ref, **v}, {"shape": 0, "data_sha1": 0}),
             contenders=[
                 Contender("larder", ["{larder}", "copy", str(src.path), url + "larder.zarr",
                                      "--chunks", str(chunks), "--codec", "zstd:3", "-q", *ep],
                           role="larder", env=env, larder_sub=["copy"],
                           larder_flags=["--endpoint", "--resume"], parse=parse_write,
                           before=emptied("larder.zarr"), verify=verify("larder.zarr")),
                 Contender("zarr-python", ["{python}", ctx.peer(PEER), endpoint, BUCKET, "zarr",
                                           "write", str(src.path), "peer.zarr", "--chunks",
                                           str(chunks)],
                           numpy=True, peer_script=PEER, parse=parse_write,
                           python_modules=["zarr", "obstore"], before=emptied("peer.zarr"),
                           verify=verify("peer.zarr")),
                 Contender("raw PUT/GET loop", ["{python}", ctx.peer(PEER), endpoint, BUCKET,
                                                "raw", str(src.meta["bytes"]), "--part",
                                                str(part)],
                           role="reference", peer_script=PEER, parse=parse_raw,
                           python_modules=["obstore"],
                           note="the server's ceiling: chunk-sized objects put, then got, "
                                "16 in flight; no encoding"),
             ],
             targets=[faster_than("zarr-python", 2.0),
                      rss_at_most(256 << 20, text="`larder copy` to S3: peak RSS ≤ 256 MiB")]),
        Case(name="s3_full_read", title=f"full read + sum of {size} from S3",
             bytes_processed=src.meta["bytes"],
             check=lambda v: check_equal({"generator": sum_ref, **v}, {"count": 0, "sum": 1e-9}),
             contenders=[
                 Contender("larder", ["{larder}", "bench", "read", url + "input.zarr", "--json",
                                      *ep],
                           role="larder", env=env, larder_sub=["bench", "read"],
                           larder_flags=["--json"], parse=parse_full),
                 Contender("zarr-python", ["{python}", ctx.peer(PEER), endpoint, BUCKET, "zarr",
                                           "read", "input.zarr"],
                           numpy=True, peer_script=PEER, parse=parse_full,
                           python_modules=["zarr", "obstore"]),
                 Contender("raw GET loop", ["{python}", ctx.peer(PEER), endpoint, BUCKET,
                                            "raw-read", "input.zarr"],
                           role="reference", peer_script=PEER, parse=parse_raw_read,
                           python_modules=["obstore"],
                           note="the server's ceiling: the same chunk objects got, 16 in "
                                "flight; no decoding"),
             ],
             targets=[faster_than("zarr-python", 2.0),
                      faster_than("raw GET loop", 0.8, metric="op_s",
                                  text="larder ≥ 0.8× the server's ceiling (op_s)")]),
        Case(name="s3_random_reads",
             title=f"{offs.meta['count']} random reads of {length} elements from S3",
             check=lambda v: check_equal({"generator": reads_ref, **v}, {"reads": 0, "sum": 1e-9}),
             contenders=[
                 Contender("larder", ["{larder}", "bench", "read", url + "input.zarr",
                                      "--offsets", str(offs.path), "--len", str(length),
                                      "--json", *ep],
                           role="larder", env=env, larder_sub=["bench", "read"],
                           larder_flags=["--offsets", "--json"], parse=parse_reads),
                 Contender("zarr-python", ["{python}", ctx.peer(PEER), endpoint, BUCKET, "zarr",
                                           "random", "input.zarr", "--offsets", str(offs.path),
                                           "--len", str(length)],
                           numpy=True, peer_script=PEER, parse=parse_reads,
                           python_modules=["zarr", "obstore"]),
                 Contender("raw one-GET-per-read loop",
                           ["{python}", ctx.peer(PEER), endpoint, BUCKET, "raw-random",
                            "input.zarr", "--offsets", str(offs.path), "--len", str(length),
                            "--chunks", str(chunks)],
                           role="reference", peer_script=PEER, parse=parse_raw_random,
                           python_modules=["obstore"],
                           note="the server's ceiling: one GET of each chunk object a read "
                                "covers, one read after the other; no decoding"),
             ],
             targets=[faster_than("zarr-python", 5.0),
                      faster_than("raw one-GET-per-read loop", 0.8, metric="op_s",
                                  text="larder ≥ 0.8× the server's ceiling (op_s)")]),
    ]


if __name__ == "__main__":
    sys.exit("run through benches/peers/run --only s3")
