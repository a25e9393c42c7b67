"""Copy-on-write clones (`larder bench cow`, issue 3) vs numpy `mmap_mode="c"` and `.copy()`."""

from harnesslib.common import size_text
from harnesslib.model import Case, Contender, ContractError, Mismatch, Target, check_equal, \
    last_json, require

NAME = "cow"
TITLE = "Copy-on-write: modify a fraction of the pages, keep the result"
ISSUE = 3
LARDER_SUBS = [["bench", "cow"]]  # none available: skipped before data generation
DESCRIPTION = """
A float64 array of `cow_bytes` (the same file for every contender); a fraction of its pages
(0.1 %, 1 %, 10 %, chosen at random with a fixed seed, the same pages on both sides) gets one
element written each and the result is kept. `larder bench cow --base` clones the file (private
mapping), writes, and saves a delta of the changed pages; it reports each step's time, the
clone's private memory and the delta's size (its in-process numpy-way measurement and its
materialization are turned off: numpy runs as a process of its own here). numpy's only way to
keep changes is `np.load(mmap_mode="c")`, edit, `np.save` of the whole array
(`cow_numpy.py --mode save`); the other way is an in-memory `.copy()` (`--mode copy`). Whole-process
times compare keeping a modified copy end to end (larder also scans the dirty pages and reopens
base + delta to read a changed element back; larder syncs its delta, `np.save` does not sync).
Checked equal: the number of pages written; both sides verify the written values. The targets
use the times and sizes the contenders report.
"""

FRACTIONS = [0.001, 0.01, 0.1]
SEED = 7
# `larder bench cow --json` row keys -> the metric names shown in the tables.
LARDER_KEYS = {"clone_seconds": "clone_s", "cow_seconds": "cow_s", "write_seconds": "write_s",
               "dirty_scan_seconds": "dirty_scan_s", "private_bytes": "private_bytes",
               "rss_anon_growth_bytes": "rss_anon_growth_bytes", "save_seconds": "save_s",
               "delta_bytes": "delta_bytes", "reopen_seconds": "reopen_s",
               "reopen_view_seconds": "reopen_view_s",
               "reopen_private_bytes": "reopen_private_bytes",
               "materialize_seconds": "materialize_s"}
# `cow_numpy.py` row keys -> metric names (np.load(mmap_mode="c") is numpy's clone).
NUMPY_KEYS = {"clone_seconds": "clone_s", "write_seconds": "write_s",
              "rss_anon_growth_bytes": "rss_anon_growth_bytes", "save_seconds": "save_s",
              "save_bytes": "saved_bytes"}


def parse_larder(fraction):
    def parse(run, ctx):
        d = last_json(run.stdout)
        if not isinstance(d, dict) or not isinstance(d.get("rows"), list):
            raise ContractError("bench cow JSON has no list of rows")
        require(d, "page_size", "file_bytes", what="bench cow JSON")
        row = next((r for r in d["rows"]
                    if abs(float(r.get("fraction", -1)) - fraction) < 1e-12), None)
        if row is None:
            raise ContractError(f"bench cow JSON has no row for fraction {fraction}")
        require(row, "pages_written", "clone_seconds", "write_seconds", "private_bytes",
                "save_seconds", "delta_bytes", "reopen_seconds", "verified",
                what="bench cow row")
        if row["verified"] is not True:
            raise Mismatch(f"larder bench cow did not verify its own result: {row}")
        metrics = {m: row[k] for k, m in LARDER_KEYS.items()
                   if isinstance(row.get(k), (int, float))}
        metrics["page_size"] = d["page_size"]
        metrics["file_bytes"] = d["file_bytes"]
        return {"values": {"pages_written": row["pages_written"],
                           "delta_bytes": row["delta_bytes"]}, "metrics": metrics}

    return parse


def verify_delta(keep, fraction):
    """The delta `bench cow --keep` left has the size the JSON reports."""

    def verify(ctx, values):
        delta = keep / f"clone-{fraction}.delta"
        if not delta.is_file():
            raise ContractError(f"bench cow --keep left no {delta.name}")
        size = delta.stat().st_size
        if size != values["delta_bytes"]:
            raise Mismatch(f"{delta.name} is {size} bytes, JSON says {values['delta_bytes']}")
        return {}

    return verify


def parse_numpy(run, ctx):
    d = last_json(run.stdout)
    require(d, "rows", "copy_seconds", "page_size", what="cow_numpy.py JSON")
    metrics, values = {}, {}
    if isinstance(d.get("copy_seconds"), (int, float)):
        metrics["copy_s"] = d["copy_seconds"]
        metrics["copy_bytes"] = d["copy_bytes"]
    if d["rows"]:
        row = d["rows"][0]
        require(row, "pages_written", "save_seconds", "save_bytes", "verified",
                what="cow_numpy.py row")
        if row["verified"] is not True:
            raise Mismatch(f"cow_numpy.py did not find its writes in the saved file: {row}")
        values["pages_written"] = row["pages_written"]
        metrics.update({m: row[k] for k, m in NUMPY_KEYS.items()
                        if isinstance(row.get(k), (int, float))})
    if not metrics:
        raise ContractError("cow_numpy.py reported neither a copy nor a save")
    return {"values": values, "metrics": metrics}


def metric(case_out, name, key):
    for c in case_out["contenders"]:
        if c["name"] == name and c.get("summary") and c["status"] == "ok":
            return c["summary"]["metrics"].get(key)
    return None


def cases(ctx):
    base = ctx.data("array_f64", nbytes=ctx.p("cow_bytes"), seed=2)
    size = base.meta["bytes"]
    out = []
    for f in FRACTIONS:
        keep = ctx.scratch("cow", f"keep-{f}")
        np_dir = ctx.scratch("cow", f"numpy-{f}")
        pct = f"{f * 100:g} %"

        def clone_fast(c, r):
            v = metric(c, "larder", "clone_s")
            return None if v is None else (f"{v * 1e3:.3f} ms", v < 1e-3)

        def private_small(c, r, f=f):
            v = metric(c, "larder", "private_bytes")
            if v is None:
                return None
            limit = f * size + (1 << 20)
            return f"{v / 2**20:.2f} MiB (limit {limit / 2**20:.2f} MiB)", v <= limit

        def delta_small(c, r):
            v, ps = metric(c, "larder", "delta_bytes"), metric(c, "larder", "page_size")
            pages = next((x["values"]["pages_written"] for x in c["contenders"]
                          if x["name"] == "larder" and x.get("values")), None)
            if v is None or ps is None or pages is None:
                return None
            limit = 1.01 * pages * ps + 64 * 1024
            return f"{v / 2**20:.2f} MiB (limit {limit / 2**20:.2f} MiB)", v <= limit

        def reopen_fast(c, r):
            v = metric(c, "larder", "reopen_s")
            return None if v is None else (f"{v * 1e3:.2f} ms", v < 0.010)

        def save_faster(c, r):
            a, b = metric(c, "larder", "save_s"), metric(c, "numpy mmap_mode=c + np.save",
                                                         "save_s")
            return None if a is None or b is None else (f"{b / a:.1f}×", b / a >= 20)

        def disk_smaller(c, r):
            a = metric(c, "larder", "delta_bytes")
            b = metric(c, "numpy mmap_mode=c + np.save", "saved_bytes")
            return None if a is None or b is None else (f"{b / a:.1f}×", b / a >= 50)

        targets = [Target("clone < 1 ms", clone_fast),
                   Target(f"private memory ≤ {pct} of size + 1 MiB", private_small),
                   Target("delta ≤ 1.01 × changed pages + 64 KiB", delta_small)]
        if f == 0.01:
            targets += [Target("reopen base + delta and read one element < 10 ms", reopen_fast),
                        Target("save ≥ 20× faster than numpy's np.save", save_faster),
                        Target("on-disk cost ≥ 50× smaller than numpy's", disk_smaller)]

        def check(values):
            return check_equal(values, {"pages_written": 0})

        np_argv = ["{python}", ctx.peer("cow_numpy.py"), "--base", str(base.path),
                   "--fractions", str(f), "--pattern", "random", "--seed", str(SEED)]
        out.append(Case(
            name=f"fraction_{f:g}",
            title=f"{size_text(size)}, {pct} of the pages modified",
            inputs=[base.path], bytes_processed=None, check=check, targets=targets,
            contenders=[
                Contender("larder",
                          ["{larder}", "bench", "cow", "--base", str(base.path), "--fractions",
                           str(f), "--pattern", "random", "--seed", str(SEED), "--json",
                           "--keep", str(keep), "--no-full-copy", "--no-materialize"],
                          role="larder", larder_sub=["bench", "cow"],
                          larder_flags=["--base", "--json", "--keep", "--no-full-copy",
                                        "--no-materialize"],
                          parse=parse_larder(f), verify=verify_delta(keep, f), outputs=[keep]),
                Contender("numpy mmap_mode=c + np.save",
                          [*np_argv, "--mode", "save", "--dir", str(np_dir)], numpy=True,
                          peer_script="cow_numpy.py", parse=parse_numpy, outputs=[np_dir]),
                Contender("numpy .copy()", [*np_argv, "--mode", "copy"], numpy=True,
                          peer_script="cow_numpy.py", parse=parse_numpy,
                          note="copies the whole array into memory; keeps nothing on disk"),
            ],
        ))
    return out


def extra_plot(s, path):
    """Private memory and delta size of larder vs what numpy keeps, by fraction modified."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = (  # (contender, metric, label, color, line style, marker)
        ("numpy .copy()", "copy_bytes", "numpy .copy(): memory", "#c44e52", "-", "^"),
        ("numpy mmap_mode=c + np.save", "saved_bytes", "numpy np.save: file", "#e07b39", "--",
         "v"),
        ("larder", "private_bytes", "larder clone: private memory", "#1b6ca8", "-", "o"),
        ("larder", "delta_bytes", "larder delta: file", "#55a868", "--", "s"),
    )
    pts = {}
    for c in s["cases"]:
        if c["status"] != "ok":
            continue
        frac = float(c["name"].split("_", 1)[1]) * 100
        for name, key, label, *_ in series:
            v = metric(c, name, key)
            if v is not None:
                pts.setdefault(label, []).append((frac, v / 2**20))
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for _, _, label, color, style, marker in series:
        xy = sorted(pts.get(label, []))
        if xy:
            ax.plot([p[0] for p in xy], [p[1] for p in xy], linestyle=style, marker=marker,
                    label=label, color=color, alpha=0.9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pages modified, %")
    ax.set_ylabel("MiB (log scale)")
    ax.set_title("Cost of keeping a modified copy", fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
