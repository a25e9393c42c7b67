"""Full scan of a float64 .npy (`larder stats`, issue 6), warm and cold, vs numpy and dd."""

from harnesslib.common import size_text
from harnesslib.common import summary
from harnesslib.model import Case, Contender, Target, check_equal, last_json, require

NAME = "scan_sum"
TITLE = "Full scan: sum of a float64 .npy"
ISSUE = 6
LARDER_SUBS = [["stats"]]  # none available: skipped before data generation
DESCRIPTION = """
One pass over a float64 array of random values (`array_bytes`). `larder stats --no-std --json`
computes count, sum, mean, min, max and the NaN count in a single read of each tile, the
statistics the "sum/min/max/mean" target is about; `larder stats --json` adds std and var (a
second look at each tile, from the CPU cache). `--no-std --bins 100 --range 0,1` adds a
histogram with given bins, `np.histogram(a, bins=100, range=(0, 1))` (the data are uniform in
[0, 1)), counted in the same read; `--bins 100` alone takes its range from min and max, so it
needs a second pass over the data once they are known. References: a warm numpy `np.load(mmap_mode="r").sum()` is the
memory-bandwidth limit, and `dd bs=1M of=/dev/null` the disk limit of a cold read. The numpy
"sum, mean, std, min, max" contender computes larder's statistics the numpy way (one call per
statistic, `stats_numpy.py`). Counts and sums are checked against the generator's exact sum
(relative tolerance 1e-9, since summation orders differ), min and max exactly, mean and std
to 1e-9 between contenders. `stats_numpy.py` also times each numpy call inside its process
(`sum_s`, … in the tables); the warm target compares larder's whole process with numpy's
in-process `sum()` time, which leaves numpy's interpreter start-up and imports out of its time;
"std and histogram within 2× of sum's time" compares `larder stats` and `larder stats --no-std
--bins 100 --range 0,1` (the histogram with given bins the issue asks for) with `larder stats
--no-std`; `larder --bins 100`, two passes, is shown for comparison.
"""

HIST_BINS = 100
# The range of the generator's values (`_gen_array_f64`: uniform in [0, 1)), as numpy's
# `np.histogram(a, bins, range=(0, 1))` would be given it.
HIST_RANGE = "0,1"
GIVEN = f"larder --no-std --bins {HIST_BINS} --range {HIST_RANGE}"


def number(v):
    """A JSON number, or numpy/larder's spelling of a non-finite one."""
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(v, v))
    return v


def parse_stats(run, ctx):
    d = last_json(run.stdout)
    require(d, "count", "sum", what="stats JSON")
    values = {"count": d["count"], "sum": float(number(d["sum"]))}
    for k in ("min", "max", "nan_count", "mean", "std"):
        if k in d and d[k] is not None:
            values[k] = number(d[k])
    if isinstance(d.get("histogram"), dict) and isinstance(d["histogram"].get("counts"), list):
        # Bin edges are computed differently by each tool; only the total must agree.
        values["histogram_total"] = sum(d["histogram"]["counts"])
    metrics = {}
    if isinstance(d.get("seconds"), dict):
        metrics = {f"{op}_s": v for op, v in d["seconds"].items() if isinstance(v, (int, float))}
    return {"values": values, "metrics": metrics}


def throughput_target(text, ratio, ref, metric=None, subject="larder"):
    """`subject`'s whole-process time against `ref`'s (whole process, or its `metric`)."""

    def ev(case_out, results):
        a, b = summary(case_out, subject), summary(case_out, ref)
        if not a or not b:
            return None
        tb = b["metrics"][metric] if metric else b["wall_median_s"]
        r = tb / a["wall_median_s"]
        return f"{r:.2f}× {ref}" + (f" ({metric})" if metric else ""), r >= ratio

    return Target(text, ev)


def spread_target(case_out, results):
    """std (`larder stats`) and the histogram with given bins against the one-read summary's
    time."""
    b = summary(case_out, "larder --no-std")
    s, h = summary(case_out, "larder"), summary(case_out, GIVEN)
    if not b or not s or not h:
        return None
    rs, rh = s["wall_median_s"] / b["wall_median_s"], h["wall_median_s"] / b["wall_median_s"]
    return (f"std: {rs:.2f}×, histogram: {rh:.2f}× the time of sum/min/max/mean",
            rs <= 2.0 and rh <= 2.0)


def cases(ctx):
    arr = ctx.data("array_f64", nbytes=ctx.p("array_bytes"), seed=2)
    path = str(arr.path)
    ref = {"count": arr.meta["count"], "sum": arr.meta["sum"]}
    size = size_text(arr.meta["bytes"])

    def check(values):
        tol = {"count": 0, "sum": 1e-9}  # always: the generator knows them
        optional = {"min": 0, "max": 0, "mean": 1e-9, "std": 1e-9, "histogram_total": 0}
        tol.update({k: t for k, t in optional.items() if any(k in v for v in values.values())})
        if "histogram_total" in tol:
            ref_h = {"histogram_total": ref["count"]}
            return check_equal({"generator": {**ref, **ref_h}, **values}, tol)
        return check_equal({"generator": ref, **values}, tol)

    def larder(*extra, name="larder"):
        return Contender(name, ["{larder}", "stats", path, "--json", *extra], role="larder",
                         larder_sub=["stats"], larder_flags=["--json", *extra[:1]],
                         parse=parse_stats)

    def numpy_sum():
        return Contender("numpy sum",
                         ["{python}", ctx.peer("stats_numpy.py"), path, "--ops", "sum"],
                         role="reference", numpy=True, peer_script="stats_numpy.py",
                         parse=parse_stats, note="np.load(mmap_mode='r').sum()")

    def dd():
        return Contender("dd", ["dd", f"if={path}", "of=/dev/null", "bs=1M", "status=none"],
                         role="reference", note="sequential read, the disk limit when cold")

    warm = [larder("--no-std", name="larder --no-std"),
            larder(),
            larder("--no-std", "--bins", str(HIST_BINS), "--range", HIST_RANGE, name=GIVEN),
            larder("--bins", str(HIST_BINS), name=f"larder --bins {HIST_BINS}"),
            numpy_sum(),
            Contender("numpy sum, mean, std, min, max",
                      ["{python}", ctx.peer("stats_numpy.py"), path, "--ops",
                       "sum,mean,std,min,max"],
                      numpy=True, peer_script="stats_numpy.py", parse=parse_stats),
            dd()]
    return [
        Case(name="warm", title=f"{size}, warm page cache", inputs=[arr.path],
             bytes_processed=arr.meta["bytes"], check=check, contenders=warm,
             targets=[throughput_target("warm: sum/min/max/mean (`larder stats --no-std`) ≥ "
                                        "0.95× numpy sum (memory bandwidth; numpy's in-process "
                                        "sum time)", 0.95, "numpy sum", metric="sum_s",
                                        subject="larder --no-std"),
                      Target("std and histogram within 2× of sum's time", spread_target)]),
        Case(name="cold", title=f"{size}, cold (page cache dropped before each run)",
             inputs=[arr.path], cold=True, bytes_processed=arr.meta["bytes"], check=check,
             contenders=[larder(), numpy_sum(), dd()],
             targets=[throughput_target("cold: ≥ 0.9× dd throughput", 0.9, "dd")]),
    ]
