"""A sum over an array several times larger than a memory cgroup's limit (issue 6 point 4)."""

from harnesslib.common import size_text
from harnesslib.common import find_case, summary
from harnesslib.model import Case, Contender, Target, check_equal
from scenarios.scan_sum import parse_stats

NAME = "larger_than_ram"
TITLE = "Larger than RAM: sum under a memory cap"
ISSUE = 6
LARDER_SUBS = [["stats"]]  # none available: skipped before data generation
DESCRIPTION = """
A float64 array of `ltr_bytes` is summed by processes confined to a cgroup v1 memory group of
`cap_bytes` (page cache counts against the limit), cold. Reading the whole array into memory
(numpy `np.load` without mmap) is expected to be killed; larder and numpy's mmap sum must finish
with the right answer. The `np.load` contender is a one-line script (below): read the whole
file into memory, sum, print the same JSON as the others.
"""

# Reads the whole array into memory: what a user does without mmap_mode.
NP_LOAD_SUM = ("import json, sys; import numpy as np; a = np.load(sys.argv[1]); "
               "print(json.dumps({'count': int(a.size), 'sum': float(a.sum())}))")


def cases(ctx):
    arr = ctx.data("array_f64", nbytes=ctx.p("ltr_bytes"), seed=2)
    cap = ctx.p("cap_bytes")
    path = str(arr.path)
    ref = {"count": arr.meta["count"], "sum": arr.meta["sum"]}

    def check(values):
        return check_equal({"generator": ref, **values}, {"count": 0, "sum": 1e-9})

    def completes(case_out, results):
        for c in case_out["contenders"]:
            if c["name"] == "larder":
                return c["status"], c["status"] == "ok"
        return None

    def vs_cold(case_out, results):
        a = summary(case_out, "larder")
        cold = find_case(results, "scan_sum", "cold")
        b = summary(cold, "larder") if cold else None
        if not a or not b:
            return None
        ta = case_out["bytes_processed"] / a["wall_median_s"]
        tb = cold["bytes_processed"] / b["wall_median_s"]
        return f"{ta / tb:.2f}× ({ta / 1e9:.2f} vs {tb / 1e9:.2f} GB/s)", ta / tb >= 0.8

    def rss_le_cap(case_out, results):
        a = summary(case_out, "larder")
        if not a:
            return None
        return f"{a['maxrss_max_bytes'] / 2**20:.1f} MiB", a["maxrss_max_bytes"] <= cap

    return [Case(
        name="capped_sum",
        title=f"{size_text(arr.meta['bytes'])} under a {size_text(cap)} cap, cold",
        inputs=[arr.path], cold=True, cap_bytes=cap, bytes_processed=arr.meta["bytes"],
        check=check,
        contenders=[
            Contender("larder", ["{larder}", "stats", path, "--json"], role="larder",
                      larder_sub=["stats"], larder_flags=["--json"], parse=parse_stats),
            Contender("numpy mmap sum",
                      ["{python}", ctx.peer("stats_numpy.py"), path, "--ops", "sum"],
                      numpy=True, peer_script="stats_numpy.py", parse=parse_stats),
            Contender("numpy np.load (no mmap)",
                      ["{python}", "-c", NP_LOAD_SUM, path],
                      numpy=True, parse=parse_stats, expect="oom",
                      note="expected to be killed by the cap"),
        ],
        targets=[Target("completes under the cap", completes),
                 Target("≥ 0.8× the cold (uncapped) throughput", vs_cold),
                 Target("peak RSS ≤ cap", rss_le_cap)],
    )]
