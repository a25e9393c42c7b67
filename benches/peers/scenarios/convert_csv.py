"""CSV → one typed .npy per column (`larder convert`, issue 4) vs polars and pandas."""

from harnesslib.common import faster_than, rss_at_most, size_text
from harnesslib.data import read_dataset
from harnesslib.model import Case, Contender, Mismatch, check_equal, last_json, require

NAME = "convert_csv"
TITLE = "CSV → per-column arrays"
ISSUE = 4
LARDER_SUBS = [["convert"]]  # none available: skipped before data generation
DESCRIPTION = """
Generated request logs (fixed seed): `machine,duration` (2 columns) and
`timestamp,machine,region,status,duration,bytes` (6 columns, `region` has 12 categories),
`csv_rows` rows each. Every contender writes one `.npy` per column into an output directory,
string columns as integer codes: larder its dataset layout (`manifest.json` with the
categories), the peers `NAME.npy` per column (`convert_polars.py`: `scan_csv` streaming, then
`np.save` per column; `convert_pandas.py`: `read_csv` of the whole file, or with `--chunksize`).
`region` is named categorical to the peers (`--cat region`); larder infers it. The harness
reads every output directory and checks the row count and the sum of every numeric column
against the generator's values, the count of every category for larder (whose manifest names
them), and the sizes of the categories (sorted counts per code) for every contender. larder
makes its output durable (fsync) before renaming it into place; the peers do not sync.
"""

MiB = 1 << 20
CHUNKSIZE = 1_000_000  # rows per pandas chunk, as in benches/convert.sh


def dataset_verify(out_dir, categorical):
    def verify(ctx, values):
        d = read_dataset(out_dir, categorical=categorical)
        if "column_lengths_differ" in d:
            raise Mismatch(f"{out_dir}: columns of different lengths {d['column_lengths_differ']}")
        flat = {"rows": d["rows"]}
        for k, v in d["sums"].items():
            flat[f"sum:{k}"] = v
        for k, v in d["category_counts"].items():
            flat[f"categories:{k}"] = v
        for k, v in d["category_sizes"].items():
            flat[f"category_sizes:{k}"] = v
        return flat

    return verify


def parse_json_summary(run, ctx):
    """`{"rows", "seconds", "peak_rss_bytes", ...}`: the tool's own time and peak memory."""
    d = last_json(run.stdout)
    require(d, "rows", what="convert JSON")
    metrics = {"rows": d["rows"]}
    if isinstance(d.get("seconds"), (int, float)):
        metrics["inner_s"] = d["seconds"]
    if isinstance(d.get("peak_rss_bytes"), (int, float)):
        metrics["self_reported_peak_bytes"] = d["peak_rss_bytes"]
    return {"values": {"rows_reported": d["rows"]}, "metrics": metrics}


def dataset_check(meta):
    """The check of a converted CSV's outputs against its generator's `meta` (row count, sums
    of the numeric columns, category counts and sizes), and the names of its categorical
    columns."""
    ref = {"rows": meta["rows"], "rows_reported": meta["rows"]}
    for k, v in meta["sums"].items():
        ref[f"sum:{k}"] = v
    for k, v in meta.get("category_counts", {}).items():
        ref[f"categories:{k}"] = v
        ref[f"category_sizes:{k}"] = sorted(v.values())
    tol = {k: (1e-9 if isinstance(v, float) else 0) for k, v in ref.items()}

    def check(values):
        for name, v in values.items():
            extra = set(v) - set(ref)
            if extra:
                raise Mismatch(f"{name}: unexpected columns {sorted(extra)}")
        return check_equal({"generator": ref, **values}, tol)

    return check, tuple(meta.get("category_counts", {}))


def cases(ctx):
    out = []
    for kind, label in (("csv2", "2 columns"), ("csv6", "6 columns")):
        csv = ctx.data(kind, rows=ctx.p("csv_rows"), seed=11 if kind == "csv2" else 12)
        meta = csv.meta
        check, cat = dataset_check(meta)

        def contender(name, argv, **kw):
            d = ctx.scratch("convert", kind, name.replace(" ", "_"))
            argv = [str(d) if a == "OUT" else a for a in argv]
            return Contender(name, argv, outputs=[d], verify=dataset_verify(d, cat),
                             parse=parse_json_summary, **kw)

        src = str(csv.path)
        cats = [w for c in cat for w in ("--cat", c)]
        out.append(Case(
            name=kind,
            title=f"{label}, {meta['rows']:,} rows, {size_text(meta['bytes'])} CSV",
            inputs=[csv.path],
            bytes_processed=meta["bytes"],
            check=check,
            contenders=[
                contender("larder", ["{larder}", "convert", src, "OUT", "--quiet", "--json"],
                          role="larder", larder_sub=["convert"],
                          larder_flags=["--quiet", "--json"]),
                contender("polars", ["{python}", ctx.peer("convert_polars.py"), src, "OUT",
                                     *cats],
                          peer_script="convert_polars.py", numpy=True,
                          python_modules=["polars"]),
                contender("pandas", ["{python}", ctx.peer("convert_pandas.py"), src, "OUT",
                                     *cats],
                          peer_script="convert_pandas.py", numpy=True,
                          python_modules=["pandas"]),
                contender("pandas chunked",
                          ["{python}", ctx.peer("convert_pandas.py"), src, "OUT", *cats,
                           "--chunksize", str(CHUNKSIZE)],
                          peer_script="convert_pandas.py", numpy=True,
                          python_modules=["pandas"]),
            ],
            targets=[
                faster_than("polars", 2.0, text="throughput ≥ 2× polars"),
                faster_than("pandas", 3.0, text="throughput ≥ 3× pandas"),
                rss_at_most(64 * MiB),
            ],
        ))
    return out
