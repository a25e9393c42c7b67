#!/usr/bin/env python3
"""Datetime columns of larder against pandas and numpy: `larder groupby --by ts --every W`
against `df.groupby(df.ts.dt.floor(W))` and `pd.Grouper(key="ts", freq=W)` (empty buckets
dropped), `larder stats` of a datetime column against pandas' `describe()` (count, mean,
min, max), and timestamps converted with a strftime format against `pd.to_datetime(format=...)`.
Exits non-zero listing every mismatch.

    python check_datetime.py LARDER_BIN WORK_DIR
"""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

larder, work = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(11)
problems = []


def run(*args):
    out = subprocess.run([larder, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def ts(s):
    """An ISO string larder printed, as numpy reads it."""
    return np.datetime64(s)


# A request log over three days, millisecond timestamps with offsets, 2 % missing.
n = 300_000  # more than one block of 2^18 rows, so partial tables merge
base = np.datetime64("2024-03-30T22:00:00", "ms")
offsets = rng.integers(0, 3 * 86_400_000, n)
t = base + offsets.astype("m8[ms]")
lat = rng.gamma(2.0, 40.0, n).round(1)
missing = rng.random(n) < 0.02
lines = ["ts,latency,status"]
for i in range(n):
    if missing[i]:
        stamp = "NA"
    else:
        # Half written in UTC, half at +02:00 (the same instant).
        if i % 2:
            local = (t[i] + np.timedelta64(2, "h")).astype(str)
            stamp = local + "+02:00"
        else:
            stamp = t[i].astype(str) + "Z"
    lines.append(f"{stamp},{lat[i]},{200 + 100 * (i % 3)}")
csv = os.path.join(work, "log.csv")
with open(csv, "w") as f:
    f.write("\n".join(lines) + "\n")
out = os.path.join(work, "log")
subprocess.run([larder, "convert", csv, out, "-q"], check=True)

df = pd.read_csv(csv, na_values=["NA"])
df["ts"] = pd.to_datetime(df["ts"], format="ISO8601", utc=True).dt.tz_localize(None)

for every, freq in [("1h", "1h"), ("15min", "15min"), ("1d", "1D"), ("90s", "90s")]:
    g = run("groupby", out, "--by", "ts", "--every", every, "--agg",
            "count,mean:latency,max:latency,min:ts,max:ts", "--json")
    keys = [ts(k) for k in g["keys"]]
    agg = g["aggregates"]
    by_floor = df.groupby(df["ts"].dt.floor(freq))
    want = by_floor["latency"].agg(["size", "mean", "max"])
    tmin, tmax = by_floor["ts"].min(), by_floor["ts"].max()
    grouper = df.groupby(pd.Grouper(key="ts", freq=freq)).size()
    grouper = grouper[grouper > 0]
    if len(keys) != len(want):
        problems.append(f"{every}: {len(keys)} groups, pandas {len(want)}")
        continue
    if every != "90s" and list(grouper.values) != list(want["size"].values):
        problems.append(f"{every}: pd.Grouper and dt.floor disagree (check the test)")
    for i, (k, row) in enumerate(want.iterrows()):
        if keys[i] != np.datetime64(k):
            problems.append(f"{every}: key {i} larder {keys[i]}, pandas {k}")
            break
        if agg["count"][i] != row["size"]:
            problems.append(f"{every} {k}: count larder {agg['count'][i]}, pandas {row['size']}")
        if not np.isclose(agg["mean:latency"][i], row["mean"], rtol=1e-12, atol=0):
            problems.append(f"{every} {k}: mean larder {agg['mean:latency'][i]}, pandas {row['mean']}")
        if agg["max:latency"][i] != row["max"]:
            problems.append(f"{every} {k}: max larder {agg['max:latency'][i]}, pandas {row['max']}")
        if ts(agg["min:ts"][i]) != np.datetime64(tmin[k]) or ts(agg["max:ts"][i]) != np.datetime64(tmax[k]):
            problems.append(f"{every} {k}: min/max ts differ from pandas")
    print(f"groupby --every {every}: {len(keys)} buckets checked")

# stats of the datetime column: count, null_count, min, max, mean as pandas' describe().
s = run("stats", os.path.join(out, "ts.npy"), "--json")
d = df["ts"].describe()
unit = np.datetime_data(np.load(os.path.join(out, "ts.npy"), mmap_mode="r").dtype)[0]
for key in ["min", "max", "mean"]:
    # pandas reads the column in a finer unit; larder's mean is truncated to the column's.
    want = d[key].to_datetime64().astype(f"M8[{unit}]")
    if ts(s[key]) != want:
        problems.append(f"stats {key}: larder {s[key]}, pandas {d[key]}")
if s["count"] != d["count"] or s.get("null_count") != int(df["ts"].isna().sum()):
    problems.append(f"stats count/null_count: larder {s['count']}/{s.get('null_count')}")
for key in ["sum", "std", "var"]:
    if key in s:
        problems.append(f"stats of datetimes has {key}: {s[key]}")
print(f"stats: {s}")

# Formatted timestamps: `--type NAME=datetime64[UNIT]:FORMAT` against pd.to_datetime(format=...).
m = 20_000
when = np.datetime64("2023-11-01T00:00:00", "s") + rng.integers(0, 200 * 86_400, m).astype("m8[s]")
offsets_min = rng.choice([-300, -60, 0, 60, 330], m)
local = when + (offsets_min * 60).astype("m8[s]")
stamps = pd.Series(pd.to_datetime(local)).dt.strftime("%d/%b/%Y:%H:%M:%S")
signs = np.where(offsets_min < 0, "-", "+")
hhmm = [f"{abs(o) // 60:02d}{abs(o) % 60:02d}" for o in offsets_min]
clf = [f"{t} {sg}{z}" for t, sg, z in zip(stamps, signs, hhmm)]
days = pd.Series(pd.to_datetime(when)).dt.strftime("%d/%m/%Y")
rows = ["clf,day"] + [f"{c},{d}" if i % 97 else f"NA,{d}" for i, (c, d) in enumerate(zip(clf, days))]
fcsv = os.path.join(work, "formats.csv")
with open(fcsv, "w") as f:
    f.write("\n".join(rows) + "\n")
fout = os.path.join(work, "formats")
subprocess.run([larder, "convert", fcsv, fout, "-q", "--type",
                "clf=datetime64[s]:%d/%b/%Y:%H:%M:%S %z", "--type", "day=datetime64[D]:%d/%m/%Y"],
               check=True)
fdf = pd.read_csv(fcsv, na_values=["NA"])
want_clf = pd.to_datetime(fdf["clf"], format="%d/%b/%Y:%H:%M:%S %z", utc=True).dt.tz_localize(None)
want_day = pd.to_datetime(fdf["day"], format="%d/%m/%Y")
got_clf = np.load(os.path.join(fout, "clf.npy"))
valid = np.load(os.path.join(fout, "clf.valid.npy"))
if not np.array_equal(valid, want_clf.notna().to_numpy()):
    problems.append("formatted clf: missing positions differ from pandas")
if not np.array_equal(got_clf[valid], want_clf[valid].to_numpy().astype("M8[s]")):
    problems.append("formatted clf: values differ from pd.to_datetime(format=..., utc=True)")
if not np.array_equal(np.load(os.path.join(fout, "day.npy")), want_day.to_numpy().astype("M8[D]")):
    problems.append("formatted day: values differ from pd.to_datetime(format='%d/%m/%Y')")
print(f"formats: {m} rows checked against pandas")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print("ok")
