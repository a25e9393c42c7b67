"""The Python package (issue 26): a converted request log as pandas, numpy and DuckDB data, and
`larder.convert` from Python, against pandas/polars/DuckDB over the same data as Parquet."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

from harnesslib.common import MiB, faster_than, size_text, summary
from harnesslib.model import Case, Contender, Mismatch, Target, check_equal, close, last_json
from scenarios.convert_log import log_verify

NAME = "python"
TITLE = "Python: a converted request log to pandas, numpy and DuckDB; convert from Python"
ISSUE = 26
LARDER_SUBS = [["convert"]]  # the dataset is made by `larder convert`
DESCRIPTION = """
The request log of `convert_log` (`log_rows` rows: timestamps, URL strings, categorical
`method` and `agent`, integers with missing values), converted once by `larder convert` and
written once by pyarrow as Parquet (zstd) from that dataset, so that both hold the same
columns and types. Every contender is its own Python process (`python_peers.py`); imports
happen before its timer, so besides the whole process's wall time and peak RSS each reports the
operation's own time (`load_s`, `sum_s`, `query_s`) and the targets use it. Cases: (1)
`larder.open_dataset(d).to_pandas()` vs `pd.read_parquet` (pyarrow) and `pl.read_parquet`
(polars' own DataFrame), and like with like: both with `dtype_backend="numpy_nullable"`
(larder's default) and both with `"pyarrow"`; plus the RSS growth of the load
(`load_rss_growth_bytes`; the checks count methods from the categorical's codes, not from a
column of Python strings); (2) the sum
of `bytes` (int64, the zero-copy view `ds["bytes"].values`) vs numpy's `.sum()` on an in-RAM
copy of the same values, warm (one sum first, then the median of 20), and numpy's own
`np.load(…, mmap_mode="r")` view of the same file, which shows what reading page-cache pages
through a mapping costs against anonymous RAM whoever maps them; (3) DuckDB's
`SELECT method, count(*), avg(latency_ms) … GROUP BY method` over the dataset's Arrow stream
(the PyCapsule interface) vs `read_parquet` of the Parquet file (the log has no `region`:
`method` stands in; first query, then the median of 3: a Dataset exports Arrow once, so
the first query pays larder's checks and the later ones share its buffers); (4) `larder.convert` from Python vs the
`larder convert` command on the CSV. Checked: row counts, `status` sum, missing counts and
method counts against the generator; the sums and groups equal across contenders. Skipped
(not failed) when the `larder` package is not importable in the benchmark's Python.
"""

PEER = "python_peers.py"
# Bumped when the prepared dataset or Parquet file would change.
PREPARED_VERSION = 1


def larder_missing() -> str | None:
    if importlib.util.find_spec("larder") is None:
        return ("the larder Python package is not importable here (build it into the "
                "benchmark's venv: `maturin develop --release -m python/Cargo.toml`)")
    return None


def prepare(ctx, log) -> tuple:
    """The converted dataset and its Parquet copy, made once per request log."""
    base = ctx.data_dir / f"python-v{PREPARED_VERSION}-{log.path.stem}"
    ds, pq = base / "dataset", base / "log.parquet"
    meta_path = base / "prepared.json"
    if meta_path.exists() and ds.is_dir() and pq.exists():
        return ds, pq, json.loads(meta_path.read_text())
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    subprocess.run([ctx.larder, "convert", str(log.path), str(ds), "--quiet", "--json"],
                   check=True, capture_output=True)
    out = subprocess.run([ctx.python, ctx.peer(PEER), "parquet", str(ds), str(pq)],
                         check=True, capture_output=True, text=True)
    meta = last_json(out.stdout)
    meta_path.write_text(json.dumps(meta))
    return ds, pq, meta


def values_parse(keys: list[str]):
    def parse(run, ctx) -> dict:
        d = last_json(run.stdout)
        missing = [k for k in keys if k not in d]
        if missing:
            raise Mismatch(f"output lacks {missing}: {json.dumps(d)[:300]}")
        metrics = {k: v for k, v in d.items()
                   if k.endswith(("_s", "_bytes")) and isinstance(v, (int, float))}
        return {"values": {k: d[k] for k in keys}, "metrics": metrics}

    return parse


def rss_share_target(peer: str, share: float, metric: str | None = None,
                     who: str = "larder") -> Target:
    """`who`'s peak RSS (the whole process's, or a reported metric) ≤ `share` of the peer's."""

    def ev(case_out, results):
        a, b = summary(case_out, who), summary(case_out, peer)
        if not a or not b:
            return None
        ma = a["metrics"].get(metric) if metric else a["maxrss_max_bytes"]
        mb = b["metrics"].get(metric) if metric else b["maxrss_max_bytes"]
        if not ma or not mb:
            return None
        return f"{ma / MiB:.0f} / {mb / MiB:.0f} MiB = {ma / mb:.1%}", ma <= share * mb

    what = f" ({metric})" if metric else " (whole process)"
    lead = "" if who == "larder" else f"{who}: "
    return Target(f"{lead}peak RSS ≤ {share:.0%} of {peer}'s{what}", ev)


def cases(ctx):
    reason = larder_missing()
    if reason:
        return [Case(name="all", title="every case", contenders=[], skip=reason)]
    log = ctx.data("requestlog", rows=ctx.p("log_rows"), seed=21)
    ref = log.meta
    ds, pq, pq_meta = prepare(ctx, log)
    rows = f"{ref['rows']:,} rows"
    py = ["{python}", ctx.peer(PEER)]

    def contender(name, args, role="peer", modules=(), **kw):
        return Contender(name, [*py, *args], role=role, peer_script=PEER, numpy=True,
                         python_modules=["larder", *modules], **kw)

    frame_keys = ["rows", "columns", "sum:status", "nulls:latency_ms", "method_counts"]

    def frame_check(values):
        want = {"rows": ref["rows"], "sum:status": ref["sum:status"],
                "nulls:latency_ms": ref["nulls:latency_ms"],
                "method_counts": dict(sorted(ref["counts"]["method"].items()))}
        for name, v in values.items():
            for k, exp in want.items():
                if v[k] != exp:
                    raise Mismatch(f"{name}: {k} = {v[k]!r}, the generator's is {exp!r}")
        return check_equal(values, {"columns": 0}) + "; rows, status sum, missing latencies " \
            "and method counts equal the generator's"

    def sum_check(values):
        for name, v in values.items():
            if v["sum"] != ref["sum:bytes"]:
                raise Mismatch(f"{name}: sum {v['sum']} != the generator's {ref['sum:bytes']}")
        return check_equal(values, {"sum": 0, "dtype": 0, "rows": 0}) + " (= the generator's)"

    def group_check(values):
        counts = ref["counts"]["method"]
        for name, v in values.items():
            got = {k: g["n"] for k, g in v["groups"].items()}
            if got != counts:
                raise Mismatch(f"{name}: counts per method {got} != the generator's {counts}")
        names = list(values)
        a = values[names[0]]["groups"]
        for n in names[1:]:
            for k, g in values[n]["groups"].items():
                if g["n_latency"] != a[k]["n_latency"] or not close(
                        g["mean_latency"], a[k]["mean_latency"], 1e-9):
                    raise Mismatch(f"method {k}: {names[0]}={a[k]} but {n}={g}")
        return "counts per method = the generator's; means equal (rel. tol. 1e-9)"

    conv_out = ctx.scratch("python", "convert", "larder")
    cli_out = ctx.scratch("python", "convert", "cli")
    parq = f"Parquet {size_text(pq_meta['bytes'])}, zstd"
    return [
        Case(name="to_pandas", title=f"{rows} to a DataFrame ({parq})",
             inputs=[ds, pq], check=frame_check,
             contenders=[
                 contender("larder", ["frame", "larder", str(ds)], role="larder",
                           modules=["pandas", "pyarrow"], parse=values_parse(frame_keys)),
                 contender("pandas", ["frame", "pandas", str(pq)],
                           modules=["pandas", "pyarrow"], parse=values_parse(frame_keys)),
                 # Like with like: the same dtype_backend on both sides.
                 contender("pandas numpy_nullable",
                           ["frame", "pandas", str(pq), "--dtype-backend", "numpy_nullable"],
                           modules=["pandas", "pyarrow"], parse=values_parse(frame_keys)),
                 contender("larder pyarrow",
                           ["frame", "larder", str(ds), "--dtype-backend", "pyarrow"],
                           modules=["pandas", "pyarrow"], parse=values_parse(frame_keys)),
                 contender("pandas pyarrow",
                           ["frame", "pandas", str(pq), "--dtype-backend", "pyarrow"],
                           modules=["pandas", "pyarrow"], parse=values_parse(frame_keys)),
                 contender("polars", ["frame", "polars", str(pq)],
                           modules=["pandas", "pyarrow", "polars"],
                           parse=values_parse(frame_keys)),
             ],
             targets=[faster_than("pandas", 20.0, metric="load_s",
                                  text="to a DataFrame ≥ 20× pandas.read_parquet (load_s)"),
                      rss_share_target("pandas", 0.10),
                      rss_share_target("pandas", 0.10, metric="load_rss_growth_bytes"),
                      rss_share_target("pandas numpy_nullable", 0.10,
                                       metric="load_rss_growth_bytes"),
                      rss_share_target("pandas pyarrow", 0.10, metric="load_rss_growth_bytes",
                                       who="larder pyarrow")]),
        Case(name="sum", title=f"sum of `bytes` (int64, {rows}), warm",
             inputs=[ds], check=sum_check,
             contenders=[
                 contender("larder", ["sum", "larder", str(ds), "bytes"], role="larder",
                           parse=values_parse(["sum", "dtype", "rows"])),
                 contender("numpy", ["sum", "numpy", str(ds), "bytes"],
                           parse=values_parse(["sum", "dtype", "rows"])),
                 contender("numpy mmap_mode=r", ["sum", "numpy-mmap", str(ds), "bytes"],
                           parse=values_parse(["sum", "dtype", "rows"])),
             ],
             targets=[faster_than("numpy", 0.95, metric="sum_s",
                                  text="zero-copy view .sum() ≥ 0.95× numpy in RAM (sum_s)")]),
        Case(name="duckdb", title=f"DuckDB GROUP BY method over {rows}",
             inputs=[ds, pq], check=group_check,
             contenders=[
                 contender("larder", ["duckdb", "larder", str(ds)], role="larder",
                           modules=["duckdb"], parse=values_parse(["groups"])),
                 contender("duckdb-parquet", ["duckdb", "parquet", str(pq)],
                           modules=["duckdb"], parse=values_parse(["groups"])),
             ],
             targets=[faster_than("duckdb-parquet", 0.8, metric="query_s",
                                  text="over the capsule ≥ 0.8× DuckDB over Parquet (query_s)")]),
        Case(name="convert", title=f"convert the {rows} CSV: Python vs the command",
             inputs=[log.path], bytes_processed=ref["bytes_file"],
             contenders=[
                 contender("larder", ["convert", str(log.path), str(conv_out)], role="larder",
                           outputs=[conv_out], verify=log_verify(conv_out, ref),
                           parse=values_parse(["rows"])),
                 Contender("cli", ["{larder}", "convert", str(log.path), str(cli_out), "--quiet",
                                   "--json"], larder_sub=["convert"],
                           larder_flags=["--quiet", "--json"], outputs=[cli_out],
                           verify=log_verify(cli_out, ref), parse=values_parse(["rows"])),
             ],
             targets=[faster_than("cli", 1 / 1.05,
                                  text="larder.convert within 5 % of the command (wall)")]),
    ]
