"""`larder convert` of a CSV far larger than the 10M-row files: memory must not grow with input."""

from harnesslib.common import size_text, summary
from harnesslib.model import Case, Contender, Target
from scenarios.convert_csv import dataset_check, dataset_verify, parse_json_summary

NAME = "convert_large"
TITLE = "CSV → per-column arrays, large input"
ISSUE = 4
LARDER_SUBS = [["convert"]]  # none available: skipped before data generation
DESCRIPTION = """
The 6-column request log of the `convert_csv` scenario with `large_csv_rows` rows (about 10 GB
at full size, 24 times the 10M-row file), converted by larder alone: the peers hold a whole
column (polars) or the whole table (pandas) in memory, which is exactly what this case is about.
The target is issue 4's "peak RSS ≤ 64 MiB for a 10 GB file too". The output is checked like in
`convert_csv` (row count, sums of every numeric column, category counts) against the generator's
values.
"""

MiB = 1 << 20
GB = 10**9


def cases(ctx):
    csv = ctx.data("csv6", rows=ctx.p("large_csv_rows"), seed=13)
    meta = csv.meta
    check, cat = dataset_check(meta)

    def rss_on_10gb(case_out, results):
        # The issue's target is for a 10 GB file: below that size the figure is shown, not judged.
        s = summary(case_out, "larder")
        if not s:
            return None
        m, n = s["maxrss_max_bytes"], meta["bytes"]
        text = f"{m / MiB:.1f} MiB on a {n / GB:.2f} GB input"
        return text, (m <= 64 * MiB) if n >= 10 * GB else None

    out_dir = ctx.scratch("convert_large", "larder")
    src = str(csv.path)
    return [Case(
        name="csv6_large",
        title=f"6 columns, {meta['rows']:,} rows, {size_text(meta['bytes'])} CSV",
        inputs=[csv.path],
        bytes_processed=meta["bytes"],
        check=check,
        contenders=[
            Contender("larder", ["{larder}", "convert", src, str(out_dir), "--quiet", "--json"],
                      role="larder", larder_sub=["convert"], larder_flags=["--quiet", "--json"],
                      outputs=[out_dir], verify=dataset_verify(out_dir, cat),
                      parse=parse_json_summary),
        ],
        targets=[Target("larder peak RSS ≤ 64 MiB for a 10 GB file", rss_on_10gb)],
    )]
