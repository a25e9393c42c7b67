"""Group-by where the data lives (issue 28): `larder groupby` of a dataset's Zarr group on a
local S3 server vs a dask cluster reading the same group through xarray."""

import os
import subprocess

from harnesslib.common import faster_than, rss_at_most
from harnesslib.model import Case, Contender, ContractError, Mismatch, close, last_json
from scenarios.s3 import BUCKET, s3_env, start_moto

NAME = "remote_groupby"
TITLE = "Group-by of a dataset's Zarr group in object storage"
ISSUE = 28
LARDER_SUBS = [["groupby"], ["copy"]]
PEER = "remote_groupby_dask.py"
BY, MEAN, MAX = "method", "latency_ms", "bytes"
AGG = f"count,mean:{MEAN},max:{MAX}"
KEYS = AGG.split(",")
DESCRIPTION = f"""
The request log of `convert_log` (`log_rows` rows, fixed seed), converted by `larder convert`
and copied by `larder copy DATASET s3://…/log.zarr` (default chunks of 262,144 rows, zstd) to
`moto_server` on a free loopback port, once, untimed. Then per `{BY}` (categorical, 5 values)
the row count, the mean of `{MEAN}` (integers, 1 % missing: a `_FillValue` in the group) and
the max of `{MAX}` (1 % missing). larder: `larder groupby s3://…/log.zarr --by {BY} --agg
{AGG} --json`, which reads the three columns' chunks from the server and decodes them
(docs/cli.md, "Computing on a dataset's Zarr group"). dask: `{PEER}`, `xarray.open_zarr` over
zarr-python's `ObjectStore` (obstore) on a `LocalCluster` of 2 worker processes × 1 thread;
its time includes starting the cluster (its own `seconds`, without it, is reported as
`inner_s`), and its peak RSS is the client process's: the largest worker's is reported as
`workers_rss_MiB`. Values are checked between the contenders (means rel. tol. 1e-9).
"""


def parse_groups(run, ctx):
    d = last_json(run.stdout)
    if not isinstance(d, dict) or not isinstance(d.get("aggregates"), dict):
        raise ContractError(f"group-by output is not larder's JSON shape: {str(d)[:200]}")
    keys, aggs = d.get("keys"), d["aggregates"]
    for k in KEYS:
        if not isinstance(aggs.get(k), list) or len(aggs[k]) != len(keys):
            raise ContractError(f"aggregate {k!r} has not one value per key")
    out = {str(key): {k: aggs[k][i] for k in KEYS} for i, key in enumerate(keys)}
    metrics = {}
    if isinstance(d.get("seconds"), (int, float)):
        metrics["inner_s"] = d["seconds"]
    if isinstance(d.get("workers_peak_rss_kib"), (int, float)):
        metrics["workers_rss_MiB"] = d["workers_peak_rss_kib"] / 1024
    return {"values": {"groups": out}, "metrics": metrics}


def check(values):
    ref_name, ref = next(iter(values.items()))
    for name, v in values.items():
        got = v["groups"]
        if set(got) != set(ref["groups"]):
            raise Mismatch(f"{name}: groups {sorted(got)} != {ref_name}'s {sorted(ref['groups'])}")
        for key, exp in ref["groups"].items():
            for k in KEYS:
                tol = 1e-9 if k.startswith("mean") else 0
                if not close(float(got[key][k]), float(exp[k]), tol):
                    raise Mismatch(f"{name}: group {key} {k} = {got[key][k]}, "
                                   f"{ref_name} has {exp[k]}")
    return (f"{len(ref['groups'])} groups × {len(KEYS)} aggregates agree "
            f"({len(values)} contenders; means rel. tol. 1e-9)")


def cases(ctx):
    try:
        import dask.distributed  # noqa: F401
        import obstore  # noqa: F401
        import xarray  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as e:
        return [Case(name="remote_groupby", title=TITLE, contenders=[],
                     skip=f"needs dask.distributed, xarray, zarr and obstore: {e}")]
    log = ctx.data("requestlog", rows=ctx.p("log_rows"), seed=21)
    ds = ctx.scratch("remote_groupby", "log")
    if not (ds / "manifest.json").is_file():
        subprocess.run([ctx.larder, "convert", str(log.path), str(ds), "--quiet"], check=True)
    endpoint = start_moto(ctx.python)
    env = s3_env()
    group = f"s3://{BUCKET}/log.zarr"
    subprocess.run([ctx.larder, "copy", str(ds), group, "-q", "--endpoint", endpoint],
                   check=True, env={**os.environ, **env})
    rows = log.meta["rows"]
    return [Case(
        name="remote_groupby",
        title=f"{rows:,} rows in S3 by {BY}",
        check=check,
        contenders=[
            Contender("larder", ["{larder}", "groupby", group, "--by", BY, "--agg", AGG,
                                 "--json", "--endpoint", endpoint],
                      role="larder", env=env, larder_sub=["groupby"],
                      larder_flags=["--json", "--endpoint"], parse=parse_groups),
            Contender("dask", ["{python}", ctx.peer(PEER), endpoint, BUCKET, "log.zarr", BY,
                               MEAN, MAX],
                      numpy=True, peer_script=PEER, parse=parse_groups,
                      python_modules=["dask", "distributed", "xarray", "zarr", "obstore"],
                      note="LocalCluster, 2 worker processes × 1 thread; RSS: the client's"),
        ],
        targets=[faster_than("dask", 2.0),
                 rss_at_most(256 << 20, text="`larder groupby` of the group: peak RSS ≤ 256 MiB")],
    )]


if __name__ == "__main__":
    import sys
    sys.exit("run through benches/peers/run --only remote_groupby")
