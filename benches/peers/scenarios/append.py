"""Appending a day to a dataset (`larder convert --append`, issue 17): cost by the day's size."""

from harnesslib.common import find_case, json_parse, summary
from harnesslib.model import Case, Contender, Target

NAME = "append"
TITLE = "Append one day (1M rows) to a dataset of 10M and of 100M rows"
ISSUE = 17
LARDER_SUBS = [["convert"]]  # none available: skipped before data generation
DESCRIPTION = """
A day of the 6-column table (`timestamp,machine,region,status,duration,bytes`, `append_rows`
rows of CSV, its own seed) appended with `larder convert --append` to datasets of that table
in larder's layout holding `append_small_rows` and `append_large_rows` rows (written by the
generator, as in `groupby`). Before every round the driver (`append_run.py`) puts the dataset
back as it was (each file cut to its length, its header and the manifest rewritten), so every
round appends the same day to the same dataset; only the `larder` process is timed
(`append_s`, with its peak RSS). The appended rows are checked: the row count and the exact
sum of the day's `bytes`. The target is issue 17's: the time of an append grows with the day,
not with the dataset (onto the large dataset ≤ 1.2× onto the small one). No peer: numpy cannot
append to a `.npy`, and the others rewrite their files.
"""


def cases(ctx):
    day = ctx.data("csv6", rows=ctx.p("append_rows"), seed=32)
    out = []
    for name, rows_key in (("onto_small", "append_small_rows"), ("onto_large", "append_large_rows")):
        ds = ctx.data("dataset6", rows=ctx.p(rows_key), seed=31)
        argv = ["{python}", ctx.peer("append_run.py"), "{larder}", str(ds.path), str(day.path),
                "--day-rows", str(day.meta["rows"]),
                "--day-bytes-sum", str(day.meta["sums"]["bytes"])]
        targets = []
        if name == "onto_large":
            targets.append(Target("append onto the large dataset ≤ 1.2× onto the small one",
                                  ratio_to_small))
        out.append(Case(
            name=name,
            title=f"{day.meta['rows']:,} rows onto {ds.meta['rows']:,}",
            inputs=[day.path],
            bytes_processed=day.meta["bytes"],
            contenders=[Contender("larder", argv, role="larder", larder_sub=["convert"],
                                  larder_flags=["--append"], numpy=True,
                                  parse=json_parse(["appended", "bytes_sum"],
                                                           ["append_s", "peak_rss_bytes"]))],
            targets=targets,
        ))
    return out


def ratio_to_small(case_out, results):
    small = find_case(results, NAME, "onto_small")
    a = summary(case_out, "larder")
    b = summary(small, "larder") if small else None
    if not a or not b:
        return None
    ratio = a["metrics"]["append_s"] / b["metrics"]["append_s"]
    return f"{ratio:.2f}× ({a['metrics']['append_s']:.3f} s vs {b['metrics']['append_s']:.3f} s)", \
        ratio <= 1.2
