"""CSV → one typed .npy per column (`larder convert`, issue 4) vs polars and pandas."""

from harnesslib.common import faster_than, rss_at_most, size_text
from harnesslib.data import read_dataset
from harnesslib.model import Case, Contender, Mismatch, Target, check_equal, last_json

NAME = "convert_csv"
TITLE = "CSV → per-column arrays"
ISSUE = 4
LARDER_SUBS = [["convert"]]  # none available: skipped before data generation
DESCRIPTION = """
Generated request logs (fixed seed): `machine,duration` (2 columns) and
`timestamp,machine,region,status,duration,bytes` (6 columns, `region` has 12 categories),
`csv_rows` rows each. Every contender writes the same output: a directory with one `.npy` per
column and a `manifest.json` in larder's dataset format (categorical columns as integer codes
plus their categories). The harness reads every output directory and checks row counts, the
sum of every numeric column and the count of every category against the generator's values.
polars uses its streaming `scan_csv`, pandas `read_csv` (whole file, and chunked).
"""

MiB = 1 << 20


def dataset_verify(out_dir):
    def verify(ctx, values):
        d = read_dataset(out_dir)
        if "column_lengths_differ" in d:
            raise Mismatch(f"{out_dir}: columns of different lengths {d['column_lengths_differ']}")
        flat = {"rows": d["rows"]}
        for k, v in d["sums"].items():
            flat[f"sum:{k}"] = v
        for k, v in d["category_counts"].items():
            flat[f"categories:{k}"] = v
        return flat

    return verify


def parse_rows(run, ctx):
    d = last_json(run.stdout)
    return {"values": {}, "metrics": {"rows": d.get("rows")}}


def cases(ctx):
    out = []
    for kind, label in (("csv2", "2 columns"), ("csv6", "6 columns")):
        csv = ctx.data(kind, rows=ctx.p("csv_rows"), seed=11 if kind == "csv2" else 12)
        meta = csv.meta
        ref = {"rows": meta["rows"]}
        for k, v in meta["sums"].items():
            ref[f"sum:{k}"] = v
        for k, v in meta.get("category_counts", {}).items():
            ref[f"categories:{k}"] = v
        tol = {k: (1e-9 if isinstance(v, float) else 0) for k, v in ref.items()}

        def check(values, ref=ref, tol=tol):
            for name, v in values.items():
                extra = set(v) - set(ref)
                if extra:
                    raise Mismatch(f"{name}: unexpected columns {sorted(extra)}")
            return check_equal({"generator": ref, **values}, tol)

        def contender(name, argv, **kw):
            d = ctx.scratch("convert", kind, name.replace(" ", "_"))
            argv = [str(d) if a == "OUT" else a for a in argv]
            return Contender(name, argv, outputs=[d], verify=dataset_verify(d), **kw)

        src = str(csv.path)
        out.append(Case(
            name=kind,
            title=f"{label}, {meta['rows']:,} rows, {size_text(meta['bytes'])} CSV",
            inputs=[csv.path],
            bytes_processed=meta["bytes"],
            check=check,
            contenders=[
                contender("larder", ["{larder}", "convert", src, "OUT", "--quiet"],
                          role="larder", larder_sub=["convert"], larder_flags=["--quiet"]),
                contender("polars", ["{python}", ctx.peer("convert_polars.py"), src, "OUT"],
                          peer_script="convert_polars.py", numpy=True, parse=parse_rows,
                          python_modules=["polars"]),
                contender("pandas", ["{python}", ctx.peer("convert_pandas.py"), src, "OUT"],
                          peer_script="convert_pandas.py", numpy=True, parse=parse_rows,
                          python_modules=["pandas"]),
                contender("pandas chunked",
                          ["{python}", ctx.peer("convert_pandas.py"), src, "OUT", "--chunked"],
                          peer_script="convert_pandas.py", numpy=True, parse=parse_rows,
                          python_modules=["pandas"]),
            ],
            targets=[
                faster_than("polars", 2.0, text="throughput ≥ 2× polars"),
                faster_than("pandas", 3.0, text="throughput ≥ 3× pandas"),
                rss_at_most(64 * MiB),
                Target("peak RSS ≤ 64 MiB for a 10 GB file too",
                       lambda c, r: ("not measured: this harness keeps inputs at the issue's "
                                     "sizes", None)),
            ],
        ))
    return out
