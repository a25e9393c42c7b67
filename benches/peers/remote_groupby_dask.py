#!/usr/bin/env python3
"""The peer of the `remote_groupby` scenario: a dask cluster grouping a dataset's Zarr group in
object storage through xarray (issue 28).

    remote_groupby_dask.py ENDPOINT BUCKET PREFIX BY VALUE_MEAN VALUE_MAX

Opens the group `PREFIX` in `BUCKET` with `xarray.open_zarr` over zarr-python's `ObjectStore`
(obstore's `S3Store`), one dask chunk per Zarr chunk, on a `LocalCluster` of 2 worker
processes with one thread each, and computes per category of `BY` (its codes, labelled by the
`categories` attribute larder writes) the row count, the mean of `VALUE_MEAN` and the max of
`VALUE_MAX` (missing values, decoded by xarray from `_FillValue` as NaN, skipped), as `larder
groupby GROUP --by BY --agg count,mean:VALUE_MEAN,max:VALUE_MAX --json` does. Prints the same
JSON shape (`{"by", "keys", "aggregates"}`) plus `seconds` (opening and computing, without
starting the cluster) and `workers_peak_rss_kib` (the largest worker's peak RSS: the harness
measures this process, the client, alone).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def worker_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    endpoint, bucket, prefix, by, mean_col, max_col = sys.argv[1:7]
    import xarray as xr
    from dask.distributed import Client, LocalCluster
    from obstore.store import S3Store
    from zarr.storage import ObjectStore

    store = S3Store(bucket, prefix=prefix, endpoint=endpoint, access_key_id="test",
                    secret_access_key="test", region="us-east-1",
                    client_options={"allow_http": True})
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        ds = xr.open_zarr(ObjectStore(store, read_only=True), chunks={})
        cats = ds[by].attrs["categories"]
        codes, mean_v, max_v = ds[by], ds[mean_col], ds[max_col]
        lazy = []
        for code in range(len(cats)):
            in_group = codes == code
            lazy.append((in_group.sum(), mean_v.where(in_group).mean(),
                         max_v.where(in_group).max()))
        results = client.compute(lazy, sync=True)
        seconds = time.perf_counter() - t0
        peaks = client.run(worker_peak_kib)
    keys, count, mean, mx = [], [], [], []
    for label, (n, m, x) in zip(cats, results):
        n = int(n.values)
        if n == 0:
            continue
        keys.append(label)
        count.append(n)
        mean.append(float(m.values))
        mx.append(float(x.values))
    print(json.dumps({"by": by, "keys": keys,
                      "aggregates": {"count": count, f"mean:{mean_col}": mean,
                                     f"max:{max_col}": mx},
                      "seconds": seconds,
                      "workers_peak_rss_kib": max(peaks.values(), default=0)}))


if __name__ == "__main__":
    main()
