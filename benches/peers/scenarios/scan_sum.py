"""Full scan of a float64 .npy (`larder stats`, issue 6), warm and cold, vs numpy and dd."""

from harnesslib.common import size_text
from harnesslib.common import summary
from harnesslib.model import Case, Contender, Target, check_equal, last_json, require

NAME = "scan_sum"
TITLE = "Full scan: sum of a float64 .npy"
ISSUE = 6
LARDER_SUBS = [["stats"]]  # none available: skipped before data generation
DESCRIPTION = """
One pass over a float64 array of random values (`array_bytes`). `larder stats --json` computes
count, sum, mean, std, min, max and the NaN count in that pass. References: a warm numpy
`np.load(mmap_mode="r").sum()` is the memory-bandwidth limit, and `dd bs=1M of=/dev/null` the
disk limit of a cold read. The numpy "all stats" contender computes the same statistics as
larder the numpy way (one call per statistic). Counts and sums are checked against the
generator's exact sum (relative tolerance 1e-9, since summation orders differ).
"""


def parse_stats(run, ctx):
    d = last_json(run.stdout)
    require(d, "count", "sum", what="stats JSON")
    values = {"count": d["count"], "sum": d["sum"]}
    for k in ("min", "max", "nan_count"):
        if k in d:
            values[k] = d[k]
    return {"values": values, "metrics": {}}


def throughput_target(text, ratio, ref, cold=False):
    def ev(case_out, results):
        a, b = summary(case_out, "larder"), summary(case_out, ref)
        if not a or not b:
            return None
        r = b["wall_median_s"] / a["wall_median_s"]
        return f"{r:.2f}× {ref}", r >= ratio

    return Target(text, ev)


def cases(ctx):
    arr = ctx.data("array_f64", nbytes=ctx.p("array_bytes"), seed=2)
    path = str(arr.path)
    ref = {"count": arr.meta["count"], "sum": arr.meta["sum"]}
    size = size_text(arr.meta["bytes"])

    def check(values):
        return check_equal({"generator": ref, **values},
                           {"count": 0, "sum": 1e-9, "min": 0, "max": 0})

    def contenders():
        return [
            Contender("larder", ["{larder}", "stats", path, "--json"], role="larder",
                      larder_sub=["stats"], larder_flags=["--json"], parse=parse_stats),
            Contender("numpy sum", ["{python}", ctx.peer("stats_numpy.py"), path, "--ops", "sum"],
                      role="reference", numpy=True, peer_script="stats_numpy.py",
                      parse=parse_stats, note="np.load(mmap_mode='r').sum()"),
            Contender("numpy all stats",
                      ["{python}", ctx.peer("stats_numpy.py"), path, "--ops",
                       "count,sum,mean,std,min,max,nan_count"],
                      numpy=True, peer_script="stats_numpy.py", parse=parse_stats),
            Contender("dd", ["dd", f"if={path}", "of=/dev/null", "bs=1M", "status=none"],
                      role="reference", note="sequential read, the disk limit when cold"),
        ]

    return [
        Case(name="warm", title=f"{size}, warm page cache", inputs=[arr.path],
             bytes_processed=arr.meta["bytes"], check=check, contenders=contenders(),
             targets=[throughput_target("warm: ≥ 0.95× numpy sum (memory bandwidth)", 0.95,
                                        "numpy sum"),
                      Target("std and histogram within 2× of sum's time",
                             lambda c, r: ("not measured: `larder stats` computes every "
                                           "statistic in one pass", None))]),
        Case(name="cold", title=f"{size}, cold (page cache dropped before each run)",
             inputs=[arr.path], cold=True, bytes_processed=arr.meta["bytes"], check=check,
             contenders=contenders(),
             targets=[throughput_target("cold: ≥ 0.9× dd throughput", 0.9, "dd", cold=True)]),
    ]
