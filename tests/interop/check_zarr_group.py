#!/usr/bin/env python3
"""Check a dataset copied to a Zarr v3 group by `larder copy`, with xarray and a dask cluster.

Usage:  check_zarr_group.py LARDER WORKDIR [--store LOCATION] [--storage-options JSON]
                            [--s3-endpoint URL]

* writes WORKDIR/stations.csv: 5 003 rows of categorical, float, integer, date-time, free-text
  and bool columns, with missing values in each (pandas' NA tokens and empty fields), spaces
  and commas inside categories and strings;
* `larder convert` makes WORKDIR/ds, and `larder copy WORKDIR/ds LOCATION --chunks 700
  --shard 1400` the group (LOCATION defaults to WORKDIR/ds.zarr; another location, such as an
  object-store URL, is opened with --storage-options, a JSON object passed to xarray; an
  `s3://BUCKET/KEY` location with --s3-endpoint is opened through zarr-python's `ObjectStore`
  over obstore's `S3Store` at that endpoint, with the credentials of the `AWS_*` variables, in
  the test process and in every dask worker);
* for a location in object storage, `larder copy LOCATION WORKDIR/back` gives back the dataset
  directory byte for byte;
* `xarray.open_zarr(LOCATION, chunks={})` gives, for every column, the values and missing
  positions that `pandas.read_csv` of the CSV gives, and that numpy reads from the dataset's
  files (validity files included); categories come from the `categories` attribute, strings
  and booleans with missing values use the mask array named by `ancillary_variables`;
* on a `dask.distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1)`,
  the count of rows, the count of present values and the mean of `temp` per `station`,
  computed with xarray on the dask arrays, equal `larder groupby WORKDIR/ds --by station
  --agg count,count:temp,mean:temp --json`.

Prints "N passed, M failed" and exits 1 on any failure.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import xarray as xr

ROWS = 5003
STATIONS = ["North Pier", "Harbour", "Old Mill, East", "Airport"]
KINDS = ["a", "b b", "c"]

passed = 0
failures = []


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def write_csv(path):
    rng = np.random.default_rng(18)
    lines = ["station,temp,count,when,note,flag,kind"]
    for i in range(ROWS):
        station = STATIONS[rng.integers(len(STATIONS))]
        temp = "NA" if i % 17 == 3 else ("" if i % 29 == 5 else f"{rng.normal(12, 8):.3f}")
        count = "NA" if i % 13 == 1 else str(int(rng.integers(-1000, 1000)))
        when = "" if i % 11 == 2 else f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07"
        note = "" if i % 7 == 0 else f'"note {i}, seen {int(rng.integers(100))} times"'
        flag = "" if i % 19 == 4 else ("true" if rng.integers(2) else "false")
        kind = "NA" if i % 23 == 6 else KINDS[i % 3]
        lines.append(",".join([f'"{station}"', temp, count, when, note, flag, kind]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        raise SystemExit(f"{args} failed")
    return r.stdout


def dataset_column(ds_dir, manifest, name):
    """A dataset column through numpy: (values, validity or None, manifest entry)."""
    col = next(c for c in manifest["columns"] if c["name"] == name)
    if col["dtype"] == "str":
        data = np.load(os.path.join(ds_dir, col["file"]), mmap_mode="r")
        offs = np.load(os.path.join(ds_dir, col["offsets"]), mmap_mode="r")
        values = [bytes(data[offs[i]:offs[i + 1]]).decode() for i in range(len(offs) - 1)]
    else:
        values = np.load(os.path.join(ds_dir, col["file"]), mmap_mode="r")
    valid = np.load(os.path.join(ds_dir, col["valid"])) if "valid" in col else None
    return values, valid, col


def s3_store(url, endpoint):
    """zarr-python's store for `s3://BUCKET/KEY` at `endpoint`, through obstore."""
    import obstore.store
    import zarr.storage

    bucket, _, prefix = url[len("s3://"):].partition("/")
    s3 = obstore.store.S3Store(
        bucket, prefix=prefix, endpoint=endpoint, region=os.environ.get("AWS_REGION", "us-east-1"),
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        client_options={"allow_http": True})
    return zarr.storage.ObjectStore(s3, read_only=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("larder")
    ap.add_argument("workdir")
    ap.add_argument("--store", help="group location (default WORKDIR/ds.zarr)")
    ap.add_argument("--storage-options", default="{}", help="JSON object for xarray")
    ap.add_argument("--s3-endpoint", help="S3-compatible endpoint of an s3:// --store")
    a = ap.parse_args()
    csv = os.path.join(a.workdir, "stations.csv")
    ds_dir = os.path.join(a.workdir, "ds")
    store = a.store or os.path.join(a.workdir, "ds.zarr")
    storage_options = json.loads(a.storage_options) or None

    write_csv(csv)
    run(a.larder, "convert", csv, ds_dir, "--type", "note=str")
    run(a.larder, "copy", ds_dir, store, "--chunks", "700", "--shard", "1400")
    with open(os.path.join(ds_dir, "manifest.json")) as f:
        manifest = json.load(f)

    if a.s3_endpoint:
        back = os.path.join(a.workdir, "back")
        run(a.larder, "copy", store, back)
        for name in sorted(os.listdir(ds_dir)):
            with open(os.path.join(ds_dir, name), "rb") as f1, \
                    open(os.path.join(back, name), "rb") as f2:
                check(f1.read() == f2.read(), f"{name}: differs after the round trip")
        check(sorted(os.listdir(back)) == sorted(os.listdir(ds_dir)), "the same files come back")
        store = s3_store(store, a.s3_endpoint)

    pdf = pd.read_csv(csv)
    xds = xr.open_zarr(store, chunks={}, storage_options=storage_options)
    check(xds.sizes["row"] == ROWS, f"rows: {dict(xds.sizes)}")
    check(xds.attrs["rows"] == ROWS and xds.attrs["columns"] == list(pdf.columns),
          f"group attributes: {xds.attrs.get('rows')}, {xds.attrs.get('columns')}")
    sizes = xds["temp"].chunksizes["row"]
    check(set(sizes[:-1]) == {700} and sum(sizes) == ROWS, f"dask chunks are the chunks: {sizes}")

    def mask_of(var):
        """Present rows of a variable: its mask array where it names one, else not-null."""
        mask = var.attrs.get("ancillary_variables")
        if mask:
            return xds[mask].values.astype(bool)
        return ~pd.isna(var.values)

    for name in pdf.columns:
        var = xds[name]
        want = pdf[name]
        want_missing = want.isna().to_numpy()
        got_present = mask_of(var)
        check(np.array_equal(~got_present, want_missing), f"{name}: missing rows differ from pandas")
        values, valid, col = dataset_column(ds_dir, manifest, name)
        if valid is not None:
            check(np.array_equal(valid, got_present), f"{name}: missing rows differ from the dataset")
        present = got_present
        if "categories" in var.attrs:
            cats = var.attrs["categories"]
            check(cats == col["categories"], f"{name}: categories {cats}")
            check(var.attrs["flag_values"] == list(range(len(cats))), f"{name}: flag_values")
            check(len(var.attrs["flag_meanings"].split(" ")) == len(cats), f"{name}: flag_meanings")
            codes = var.values[present].astype(int)
            got = [cats[c] for c in codes]
            check(got == list(want[present]), f"{name}: categories differ from pandas")
            check(np.array_equal(codes, np.asarray(values)[present]), f"{name}: codes differ")
        elif col["dtype"] == "str":
            got = list(var.values[present])
            check(got == list(want[present]), f"{name}: strings differ from pandas")
            check(got == [v for v, p in zip(values, present) if p], f"{name}: strings differ")
        elif col["dtype"].startswith("<M8"):
            got = var.values[present].astype("datetime64[s]")
            expect = pd.to_datetime(want[present]).to_numpy().astype("datetime64[s]")
            check(np.array_equal(got, expect), f"{name}: times differ from pandas")
            check(np.array_equal(got, np.asarray(values)[present]), f"{name}: times differ")
            check(var.encoding.get("units") == "seconds since 1970-01-01", f"{name}: units")
        elif col["dtype"] == "|b1":
            got = var.values[present]
            expect = want[present].astype(bool).to_numpy()
            check(np.array_equal(got, expect), f"{name}: booleans differ from pandas")
        else:
            got = var.values[present].astype(float)
            expect = want[present].astype(float).to_numpy()
            check(np.array_equal(got, expect), f"{name}: numbers differ from pandas")
            check(np.array_equal(got, np.asarray(values, dtype=float)[present]), f"{name}: numbers differ")

    # Count and mean of temp per station on a cluster of two worker processes.
    from dask.distributed import Client, LocalCluster

    larder_out = json.loads(run(a.larder, "groupby", ds_dir, "--by", "station",
                                "--agg", "count,count:temp,mean:temp", "--json"))
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        check(len(client.scheduler_info()["workers"]) == 2, "two workers")
        g = xr.open_zarr(store, chunks={}, storage_options=storage_options)
        cats = g["station"].attrs["categories"]
        temp = g["temp"]
        lazy = []
        for code in range(len(cats)):
            in_group = g["station"] == code
            lazy.append((in_group.sum(), (in_group & temp.notnull()).sum(),
                         temp.where(in_group).mean()))
        results = client.compute(lazy, sync=True)
    for code, (rows, present, mean) in enumerate(results):
        key = cats[code]
        i = larder_out["keys"].index(key)
        aggs = larder_out["aggregates"]
        check(int(rows) == aggs["count"][i], f"count of {key}: {int(rows)} vs {aggs['count'][i]}")
        check(int(present) == aggs["count:temp"][i],
              f"count:temp of {key}: {int(present)} vs {aggs['count:temp'][i]}")
        check(math.isclose(float(mean), aggs["mean:temp"][i], rel_tol=1e-12),
              f"mean:temp of {key}: {float(mean)} vs {aggs['mean:temp'][i]}")

    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
