"""`larder convert` of a request log far larger than the 10M-row one: memory must stay flat."""

from harnesslib.common import size_text, summary
from harnesslib.model import Case, Target
from scenarios.convert_log import larder_contender

NAME = "convert_log_large"
TITLE = "Request log → per-column arrays, large input"
ISSUE = 15
LARDER_SUBS = [["convert"]]  # none available: skipped before data generation
DESCRIPTION = """
The request log of the `convert_log` scenario with `large_log_rows` rows (about 10 GB at full
size), converted by larder alone (the peers hold whole columns in memory). The target is
issue 15's "peak RSS ≤ 64 MiB, the same for a 10 GB file of that shape". The output is checked
against the generator as in `convert_log`.
"""

MiB = 1 << 20
GB = 10**9


def cases(ctx):
    log = ctx.data("requestlog", rows=ctx.p("large_log_rows"), seed=22)
    ref = log.meta

    def rss_on_10gb(case_out, results):
        # The target is for a 10 GB file: below that size the figure is shown, not judged.
        s = summary(case_out, "larder")
        if not s:
            return None
        m, n = s["maxrss_max_bytes"], ref["bytes_file"]
        return f"{m / MiB:.1f} MiB on a {n / GB:.2f} GB input", (m <= 64 * MiB) if n >= 10 * GB \
            else None

    out_dir = ctx.scratch("convert_log_large", "larder")
    return [Case(
        name="log7_large",
        title=f"7 columns, {ref['rows']:,} rows, {size_text(ref['bytes_file'])} CSV",
        inputs=[log.path],
        bytes_processed=ref["bytes_file"],
        contenders=[larder_contender(ctx, str(log.path), out_dir, ref)],
        targets=[Target("larder peak RSS ≤ 64 MiB for a 10 GB file", rss_on_10gb)],
    )]
