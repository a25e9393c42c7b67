"""The request-log CSV of the `convert_log` scenario: the shape of a web server's access log.

`ts,url,method,status,latency_ms,bytes,agent`, one row per request, with a fixed seed:

- `ts`: ISO 8601 UTC with milliseconds (`2023-11-14T22:13:20.123Z`), increasing;
- `url`: a path, about 70 % of rows distinct (an API path naming the row), the rest one of
  1,000 static assets;
- `method`: 5 values; `status`: 10 values;
- `latency_ms`: an integer, `NA` in about 1 % of rows;
- `bytes`: an integer, empty in about 1 % of rows;
- `agent`: one of 50 user agents, many with a comma (so quoted, as real logs quote them).

`write` returns the reference values the scenario checks every contender against: row count,
sums and missing counts of the numeric columns, the per-value counts of the categorical columns,
the total UTF-8 bytes of `url`, and the first, last and sum of the timestamps (ms since epoch).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CHUNK = 1 << 20
T0_MS = 1_700_000_000_000
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
METHOD_P = [0.80, 0.12, 0.04, 0.02, 0.02]
STATUSES = np.array([200, 201, 204, 301, 304, 400, 403, 404, 500, 503], dtype=np.int64)
STATUS_P = np.array([0.70, 0.05, 0.03, 0.02, 0.05, 0.03, 0.02, 0.06, 0.03, 0.01])
BROWSERS = ["Chrome", "Firefox", "Safari", "Edg", "OPR"]
SYSTEMS = ["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7",
           "X11; Linux x86_64", "iPhone; CPU iPhone OS 17_1 like Mac OS X",
           "Linux; Android 14; Pixel 8"]
AGENTS = [f"Mozilla/5.0 ({s}) AppleWebKit/537.36 (KHTML, like Gecko) {b}/{100 + i}.0"
          for i, (s, b) in enumerate((s, b) for s in SYSTEMS for b in BROWSERS)]
AGENTS += [f"curl/8.{i}.0" for i in range(10)]
AGENTS += [f"python-requests/2.{20 + i}.0" for i in range(10)]
AGENTS += [f"Go-http-client/1.{i}" for i in range(5)]
assert len(AGENTS) == 50
NA_TOKEN = "NA"


def chunks(rows: int, seed: int):
    """The table in chunks of at most CHUNK rows, as polars data frames."""
    import polars as pl

    rng = np.random.default_rng(seed)
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        i = np.arange(start, start + n, dtype=np.int64)
        ts = T0_MS + i * 20 + rng.integers(0, 20, size=n, dtype=np.int64)
        hot = rng.random(n) < 0.3
        latency = rng.lognormal(3.5, 1.0, size=n).astype(np.int64) + 1
        latency_na = rng.random(n) < 0.01
        nbytes = rng.integers(0, 2_000_000, size=n, dtype=np.int64)
        bytes_na = rng.random(n) < 0.01
        df = pl.DataFrame({
            "ts": ts,
            "hot": hot,
            "asset": rng.integers(0, 1000, size=n, dtype=np.int64),
            "user": rng.integers(0, 100_000, size=n, dtype=np.int64),
            "i": i,
            "method": np.array(METHODS, dtype=object)[rng.choice(5, size=n, p=METHOD_P)],
            "status": STATUSES[rng.choice(len(STATUSES), size=n, p=STATUS_P)],
            "latency_ms": latency,
            "latency_na": latency_na,
            "bytes": nbytes,
            "bytes_na": bytes_na,
            "agent": np.array(AGENTS, dtype=object)[rng.integers(0, 50, size=n)],
        })
        yield df.select(
            pl.col("ts"),
            pl.when(pl.col("hot"))
            .then(pl.format("/static/app-{}.js", pl.col("asset")))
            .otherwise(pl.format("/api/v1/users/{}/orders/{}", pl.col("user"), pl.col("i")))
            .alias("url"),
            pl.col("method"),
            pl.col("status"),
            pl.when(pl.col("latency_na")).then(None).otherwise(pl.col("latency_ms"))
            .alias("latency_ms"),
            pl.when(pl.col("bytes_na")).then(None).otherwise(pl.col("bytes")).alias("bytes"),
            pl.col("agent"),
        )


def write(tmp: Path, rows: int, seed: int) -> dict:
    """Writes the CSV to `tmp`; returns its reference values."""
    import polars as pl

    ref = {"rows": 0, "sum:status": 0, "sum:latency_ms": 0, "nulls:latency_ms": 0,
           "sum:bytes": 0, "nulls:bytes": 0, "url_bytes": 0, "ts_sum": 0}
    counts = {"method": {}, "agent": {}}
    first = last = None
    distinct_hot = set()
    api_rows = 0
    with open(tmp, "wb") as f:
        for k, df in enumerate(chunks(rows, seed)):
            out = df.with_columns(
                pl.from_epoch(pl.col("ts"), time_unit="ms")
                .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").alias("ts"),
                pl.col("latency_ms").cast(pl.String).fill_null(NA_TOKEN),
            )
            out.write_csv(f, include_header=(k == 0))
            ref["rows"] += df.height
            ref["sum:status"] += int(df["status"].sum())
            ref["sum:latency_ms"] += int(df["latency_ms"].sum())
            ref["nulls:latency_ms"] += int(df["latency_ms"].null_count())
            ref["sum:bytes"] += int(df["bytes"].sum())
            ref["nulls:bytes"] += int(df["bytes"].null_count())
            ref["url_bytes"] += int(df["url"].str.len_bytes().sum())
            ref["ts_sum"] += int(df["ts"].sum())
            assets = df.filter(pl.col("url").str.starts_with("/static"))["url"]
            distinct_hot.update(assets)
            api_rows += df.height - len(assets)
            for col in counts:
                for v, c in df[col].value_counts().iter_rows():
                    counts[col][v] = counts[col].get(v, 0) + c
            first = first if first is not None else int(df["ts"][0])
            last = int(df["ts"][-1])
    ref["ts_first"], ref["ts_last"] = first, last
    # API paths name their row, so each is distinct; assets repeat.
    ref["url_distinct"] = api_rows + len(distinct_hot)
    ref["counts"] = counts
    ref["bytes_file"] = tmp.stat().st_size
    return ref


def _valid(path: Path, stem: str, rows: int):
    v = path / f"{stem}.valid.npy"
    return np.load(v, mmap_mode="r") if v.exists() else np.ones(rows, dtype=bool)


def _strings(data, offsets) -> list[str]:
    raw = bytes(np.asarray(data))
    o = np.asarray(offsets)
    return [raw[o[k]:o[k + 1]].decode() for k in range(len(o) - 1)]


def read_output(path: Path) -> dict:
    """The reference values of one contender's output directory, in the form `write` returns.

    Reads larder's `manifest.json` where there is one (column kinds, categories, string and
    validity files); otherwise the files as `log_layout.save_column` writes them. Categorical
    columns whose labels are unknown (a peer's codes) are compared by their sorted counts."""
    mpath = path / "manifest.json"
    cols = {}
    if mpath.exists():
        for c in json.loads(mpath.read_text())["columns"]:
            stem = c["file"].removesuffix(".npy")
            cols[c["name"]] = (stem, c)
    else:
        for p in path.glob("*.npy"):
            stem = p.name.removesuffix(".npy")
            if not stem.endswith((".valid", ".offsets")):
                kind = "str" if (path / f"{stem}.offsets.npy").exists() else None
                cols[stem] = (stem, {"dtype": kind})
    out: dict = {"counts": {}}
    rows = None
    for name in ("ts", "url", "method", "status", "latency_ms", "bytes", "agent"):
        stem, meta = cols[name]
        arr = np.load(path / f"{stem}.npy", mmap_mode="r")
        if meta.get("dtype") == "str":
            offsets = np.load(path / f"{stem}.offsets.npy", mmap_mode="r")
            n = len(offsets) - 1
        else:
            n = len(arr)
        if rows is None:
            rows = n
        elif n != rows:
            raise ValueError(f"{path}: {name} has {n} rows, another column {rows}")
        valid = _valid(path, stem, n)
        if name == "url":
            out["url_bytes"] = int(offsets[-1] - offsets[0]) if meta.get("dtype") == "str" \
                else sum(len(s.encode()) for s in arr)
        elif name in ("method", "agent"):
            if meta.get("dtype") == "str":
                labels = np.array(_strings(arr, offsets), dtype=object)[np.asarray(valid)]
                vals, counts = np.unique(labels, return_counts=True)
                out["counts"][name] = {str(v): int(c) for v, c in zip(vals, counts)}
            else:
                codes = np.asarray(arr)[np.asarray(valid)].astype(np.int64)
                counts = np.bincount(codes)
                cats = meta.get("categories")
                if cats:
                    out["counts"][name] = {str(cats[i]): int(c) for i, c in enumerate(counts)
                                           if c}
                else:
                    out["counts"][name] = sorted(int(c) for c in counts if c)
        elif name == "ts":
            ms = np.asarray(arr).astype("datetime64[ms]").view(np.int64)
            out["ts_first"], out["ts_last"] = int(ms[0]), int(ms[-1])
            # Exact: a sum of 10M epoch milliseconds overflows int64, their offsets do not.
            out["ts_sum"] = int((ms - T0_MS).sum(dtype=np.int64)) + T0_MS * len(ms)
        else:
            a = np.asarray(arr)
            v = np.asarray(valid)
            out[f"sum:{name}"] = int(a[v].sum(dtype=np.int64))
            if name != "status":
                out[f"nulls:{name}"] = int(n - np.count_nonzero(v))
    out["rows"] = rows
    return out


def compare(ref: dict, got: dict) -> list[str]:
    """The differences between a generator's reference values and one output's."""
    bad = []
    for k in ("rows", "sum:status", "sum:latency_ms", "nulls:latency_ms", "sum:bytes",
              "nulls:bytes", "url_bytes", "ts_first", "ts_last", "ts_sum"):
        if ref[k] != got.get(k):
            bad.append(f"{k}: expected {ref[k]}, got {got.get(k)}")
    for col, counts in ref["counts"].items():
        g = got["counts"].get(col)
        want = counts if isinstance(g, dict) else sorted(counts.values())
        if g != want:
            bad.append(f"counts of {col} differ")
    return bad
