"""docs/benchmarks.md, its plots (PNG, matplotlib Agg) and the raw JSON results."""

from __future__ import annotations

import json
import os
from pathlib import Path

MiB, GiB = 1 << 20, 1 << 30
ROLE_COLORS = {"larder": "#1b6ca8", "peer": "#e07b39", "reference": "#8c8c8c"}
PEER_COLORS = ["#e07b39", "#c44e52", "#8172b2", "#55a868", "#ccb974", "#64b5cd"]


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def fmt_b(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= GiB:
        return f"{x / GiB:.2f} GiB"
    if x >= MiB:
        return f"{x / MiB:.1f} MiB"
    return f"{x / 1024:.0f} KiB"


def fmt_rate(bytes_per_s: float) -> str:
    if bytes_per_s >= 1e9:
        return f"{bytes_per_s / 1e9:.2f} GB/s"
    return f"{bytes_per_s / 1e6:.1f} MB/s"


def fmt_metric(key: str, v) -> str:
    if not isinstance(v, (int, float)):
        return str(v)
    if key.endswith("_s"):
        return fmt_s(v)
    if key.endswith("_bytes"):
        return fmt_b(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def esc(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write(results: dict, out_md: Path, log) -> None:
    out_md = out_md.resolve()
    stem = out_md.with_suffix("")
    plot_dir = stem  # docs/benchmarks/ beside docs/benchmarks.md
    out_md.parent.mkdir(parents=True, exist_ok=True)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for old in plot_dir.glob("*.png"):
        old.unlink()
    plots = {}
    for s in results["scenarios"]:
        pngs = [plot_scenario(s, plot_dir)]
        extra = getattr(_scenario_module(s["name"]), "extra_plot", None)
        if extra and any(c["status"] == "ok" for c in s["cases"]):
            try:
                pngs.append(extra(s, plot_dir / f"{s['name']}-extra.png"))
            except Exception as e:  # noqa: BLE001 - a missing extra plot is not a failure
                log(f"extra plot for {s['name']} failed: {type(e).__name__}: {e}")
        plots[s["name"]] = [p.relative_to(out_md.parent).as_posix() for p in pngs if p]
    for b, rec in results.get("criterion", {}).get("benches", {}).items():
        png = plot_criterion(b, rec, plot_dir)
        if png:
            plots[f"criterion:{b}"] = [png.relative_to(out_md.parent).as_posix()]
    json_path = stem.with_suffix(".json")
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=False, default=str) + "\n")
    os.replace(tmp, json_path)
    md = render(results, plots, json_path.relative_to(out_md.parent).as_posix())
    tmp = out_md.with_suffix(".md.tmp")
    tmp.write_text(md)
    os.replace(tmp, out_md)


def _scenario_module(name: str):
    import importlib

    try:
        return importlib.import_module(f"scenarios.{name}")
    except ImportError:
        return None


def render(r: dict, plots: dict, json_rel: str) -> str:
    L: list[str] = []
    L.append("# Benchmarks: larder side by side with its peers")
    L.append("")
    if not r.get("full_size"):
        over = f", overrides {', '.join(r['overrides'])}" if r.get("overrides") else ""
        L.append(f"> **Small-scale run, not the full size** (scale `{r['scale']}`{over}): "
                 "sizes differ from those the targets are stated for, so the pass/fail column is indicative only. The "
                 "full-size tables come from `benches/peers/run` without `--scale` or `--set`.")
        L.append("")
    L.append(f"Generated from scratch by the command below on {r['started']} "
             f"(finished {r.get('finished', '?')}). Raw results: [`{json_rel}`]({json_rel}).")
    L.append("")
    L.append("```text")
    L.append(r["command"])
    L.append("```")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(
        f"- Every contender is a separate process. Contenders of a case run alternately, "
        f"the first one rotating each round (A B C, B C A, C A B, …), {r['repeat']} time(s) "
        "each. Times are wall-clock from spawn to "
        "exit (median, with the min–max spread; the interquartile range where there are at "
        "least 4 runs). \"time ÷ larder's\" above 1 means larder was faster by that factor. "
        "Peak RSS is the kernel's `ru_maxrss` from `wait4` (exact); the private "
        "(anonymous) and file-backed (page cache mapped into the process) parts are sampled "
        "from `/proc/PID/status` every 5 ms, so they are lower bounds.")
    L.append(
        "- Results are checked equal (sums, row counts, checksums of the outputs) before any "
        "time is reported; a mismatch fails the case and the run. Outputs are written under "
        "the data directory and removed after each run; the harness runs `sync` before each "
        "run so that no earlier writeback overlaps it. No contender is asked to fsync.")
    L.append(
        f"- Threads: every contender gets {r['threads']} (`{', '.join(r['env']['thread_vars'])}`"
        " all set to that; the DuckDB peer reads `DUCKDB_THREADS`).")
    unset = ", ".join(r["env"]["numpy_contenders_unset"])
    was = {k: v for k, v in r["env"]["openblas_in_env"].items() if v}
    L.append(
        f"- numpy processes run with {unset} unset"
        + (f" (set here to {was})" if was else " (neither was set here)")
        + "; threadpoolctl then reports: " + threadpool_text(
            r["env"]["threadpoolctl_numpy_contenders"])
        + ("; with them set it reports: " + threadpool_text(
            r["env"]["threadpoolctl_default_env"]) if "threadpoolctl_default_env" in r["env"]
           else "") + ".")
    L.append(f"- Warm cases read their inputs before every run. Cold cases: {r['cold']}; "
             "after dropping the cache the contender's program files are loaded again, so "
             "a cold run measures cold data, not a cold interpreter.")
    L.append(f"- Memory caps: {r['cgroup']} (a fresh group per run with "
             "`memory.limit_in_bytes`; the process moves itself into it, then execs).")
    L.append("- Inputs are generated with fixed seeds (`benches/peers/scenarios/`) and cached; "
             "sizes: " + ", ".join(f"`{k}={v}`" for k, v in r["params"].items()) + ".")
    L.append("")
    L.append("## Machine")
    L.append("")
    m = r["machine"]
    L.append("| | |")
    L.append("|---|---|")
    rows = [("CPU", m.get("cpu")), ("cores", m.get("cores")),
            ("AVX2 / AVX-512", f"{m.get('avx2')} / {m.get('avx512f')}"),
            ("RAM", fmt_b(m.get("ram_bytes"))), ("kernel", m.get("kernel")),
            ("OS", m.get("os")),
            ("disk", disk_text(m)),
            ("filesystem (data dir)", f"{m.get('data_dir_fs')} on {m.get('data_dir_device')}")]
    for k, v in rows:
        L.append(f"| {k} | {esc(v)} |")
    L.append("")
    L.append("## Versions")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, v in r["versions"].items():
        if k == "python_executable":
            continue
        L.append(f"| {k} | {esc(v if v is not None else 'not installed')} |")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| scenario | case | target | measured | result |")
    L.append("|---|---|---|---|---|")
    any_target = False
    for s in r["scenarios"]:
        if not s["cases"] and s["status"] != "ok":
            L.append(f"| {s['name']} | — | — | {s['status']}: {esc(s['reason'])} | "
                     f"{s['status']} |")
        for c in s["cases"]:
            for t in c["targets"]:
                any_target = True
                res = {True: "**pass**", False: "**FAIL**", None: "not measured"}[t["pass"]]
                L.append(f"| {s['name']} | {c['name']} | {esc(t['text'])} | "
                         f"{esc(t['measured'])} | {res} |")
            if not c["targets"] and c["status"] != "ok":
                L.append(f"| {s['name']} | {c['name']} | — | {c['status']}: "
                         f"{esc(c['reason'])} | {c['status']} |")
    if not any_target:
        L.append("| — | — | no target could be evaluated in this run | — | — |")
    L.append("")
    for s in r["scenarios"]:
        L.extend(render_scenario(s, plots.get(s["name"])))
    if r.get("criterion"):
        L.extend(render_criterion(r["criterion"], plots))
    return "\n".join(L) + "\n"


def render_criterion(cr: dict, plots: dict) -> list[str]:
    L = ["## In-process micro-benchmarks (criterion)", ""]
    L.append(
        "The criterion benches in `benches/*.rs`, run by the same command before the peer "
        "scenarios with `cargo bench --bench NAME -- " + " ".join(cr["args"]) + "` and read "
        "from criterion's `estimates.json`. Time is per iteration: criterion's slope estimate "
        "(or its mean where it fitted no slope), with the 95 % confidence interval; throughput "
        "is the bench's declared bytes over that time. They run inside one process, on files "
        "made by the bench (fixed seed), warm.")
    L.append("")
    for b, rec in cr["benches"].items():
        L.append(f"### `benches/{b}.rs`")
        L.append("")
        if rec.get("error"):
            L.append(f"**FAILED:** {esc(rec['error'][-400:])}")
            L.append("")
            continue
        L.append("| benchmark | time per iteration | 95 % interval | throughput |")
        L.append("|---|---|---|---|")
        for x in rec["rows"]:
            thr = fmt_rate(x["bytes_per_s"]) if x.get("bytes_per_s") else "—"
            L.append(f"| `{x['id']}` | {fmt_s(x['estimate_s'])} | "
                     f"{fmt_s(x['lower_s'])}–{fmt_s(x['upper_s'])} | {thr} |")
        L.append("")
        for p in plots.get(f"criterion:{b}", []):
            L.append(f"![criterion {b}]({p})")
            L.append("")
    return L


def plot_criterion(bench: str, rec: dict, plot_dir: Path) -> Path | None:
    """One panel per criterion group: time against size where every value is a size (e.g.
    open + view latency against file size), bars otherwise."""
    from harnesslib.criterion import size_of

    rows = rec.get("rows") or []
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[dict]] = {}
    for x in rows:
        groups.setdefault(x["group"], []).append(x)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups) + 0.6, 3.6),
                             squeeze=False)
    for ax, (g, xs) in zip(axes[0], groups.items()):
        sizes = [size_of(x["value"]) for x in xs]
        if len(xs) > 1 and all(sz is not None for sz in sizes) and not any(
                x["function"] for x in xs):
            pts = sorted(zip(sizes, xs), key=lambda t: t[0])
            ax.errorbar([p[0] / MiB for p in pts], [p[1]["estimate_s"] * 1e6 for p in pts],
                        yerr=[[(p[1]["estimate_s"] - p[1]["lower_s"]) * 1e6 for p in pts],
                              [(p[1]["upper_s"] - p[1]["estimate_s"]) * 1e6 for p in pts]],
                        marker="o", color=ROLE_COLORS["larder"], capsize=3)
            ax.set_xscale("log")
            ax.set_xlabel("file size, MiB")
            ax.set_ylim(bottom=0)
            ax.set_ylabel("µs per iteration")
        else:
            labels = [x["id"][len(g) + 1:] if x["id"].startswith(g + "/") else x["id"]
                      for x in xs]
            y = list(range(len(xs)))[::-1]
            unit, scale = ("ms", 1e3) if max(x["estimate_s"] for x in xs) >= 1e-3 else ("µs", 1e6)
            ax.barh(y, [x["estimate_s"] * scale for x in xs],
                    xerr=[[(x["estimate_s"] - x["lower_s"]) * scale for x in xs],
                          [(x["upper_s"] - x["estimate_s"]) * scale for x in xs]],
                    color=ROLE_COLORS["larder"], capsize=3)
            ax.set_yticks(y)
            ax.set_yticklabels(labels or [g], fontsize=8)
            ax.set_xlabel(f"{unit} per iteration")
        ax.set_title(g, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"criterion: benches/{bench}.rs (95 % intervals)", fontsize=10)
    fig.tight_layout()
    path = plot_dir / f"criterion-{bench}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def threadpool_text(tp) -> str:
    if isinstance(tp, str):
        return tp
    if not tp:
        return "no BLAS/OpenMP pool"
    return "; ".join(f"{d.get('internal_api')} {d.get('version')} "
                     f"({d.get('architecture')}, {d.get('num_threads')} threads)" for d in tp)


def disk_text(m: dict) -> str:
    parts = []
    if m.get("disk_model"):
        parts.append(m["disk_model"])
    if m.get("disk_virtual"):
        parts.append("virtual block device")
    if m.get("disk_rotational") is not None:
        parts.append("rotational" if m["disk_rotational"] else "non-rotational")
    if m.get("disk_bytes"):
        parts.append(fmt_b(m["disk_bytes"]))
    parts.append(f"{fmt_b(m.get('data_dir_free_bytes'))} free")
    return ", ".join(parts)


def render_scenario(s: dict, plot: str | None) -> list[str]:
    L = [f"## {s['title']}", ""]
    if s.get("issue"):
        L.append(f"Targets from issue {s['issue']}. Scenario `{s['name']}`.")
    else:
        L.append(f"Scenario `{s['name']}`.")
    L.append("")
    L.append(" ".join(s["description"].split()))
    L.append("")
    if s["status"] == "skipped" and s["reason"]:
        L.append(f"**Skipped:** {esc(s['reason'])}.")
        L.append("")
    if s["status"] == "failed" and not s["cases"]:
        L.append(f"**FAILED:** {esc(s['reason'])}")
        L.append("")
    for c in s["cases"]:
        L.extend(render_case(c))
    for i, p in enumerate(plot or []):
        L.append(f"![{s['name']}{' ' + str(i + 1) if i else ''}]({p})")
        L.append("")
    return L


def render_case(c: dict) -> list[str]:
    L = [f"### {c['title']}", ""]
    if c.get("note"):
        L.append(c["note"])
        L.append("")
    if c["status"] == "skipped":
        L.append(f"Skipped: {esc(c['reason'])}.")
        L.append("")
        return L
    if c["status"] == "failed":
        L.append(f"**FAILED — no time from this case counts:** {esc(c['reason'])}")
        L.append("")
    larder = next((x for x in c["contenders"] if x["role"] == "larder" and x.get("summary")
                   and x["status"] == "ok"), None)
    lt = larder["summary"]["wall_median_s"] if larder else None
    has_cap = c.get("cap_bytes") is not None
    head = ["contender", "median", "spread", "throughput", "peak RSS", "private / file RSS"]
    if has_cap:
        head.append("cgroup peak")
    head += ["time ÷ larder's", "status"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for x in c["contenders"]:
        s = x.get("summary")
        name = f"**{x['name']}**" if x["role"] == "larder" else x["name"]
        if x["role"] == "reference":
            name += " (reference)"
        if not s:
            row = [name] + ["—"] * (len(head) - 2) + [f"{x['status']}: {esc(x['reason'])}"]
            L.append("| " + " | ".join(row) + " |")
            continue
        spread = f"{fmt_s(s['wall_min_s'])}–{fmt_s(s['wall_max_s'])}"
        if s["n"] >= 4:
            spread += f" (IQR {fmt_s(s['wall_q1_s'])}–{fmt_s(s['wall_q3_s'])})"
        spread += f", n={s['n']}"
        bp = c.get("bytes_processed")
        thr = fmt_rate(bp / s["wall_median_s"]) if bp and x["status"] == "ok" else "—"
        ratio = f"{s['wall_median_s'] / lt:.2f}" if lt and x["status"] == "ok" else "—"
        status = x["status"] if not x["reason"] else f"{x['status']}: {esc(x['reason'])}"
        row = [name, fmt_s(s["wall_median_s"]), spread, thr, fmt_b(s["maxrss_max_bytes"]),
               f"{fmt_b(s['rss_anon_peak_bytes'])} / {fmt_b(s['rss_file_peak_bytes'])}"]
        if has_cap:
            row.append(fmt_b(s.get("cgroup_peak_bytes")))
        row += [ratio, status]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    metric_keys = sorted({k for x in c["contenders"] if x.get("summary")
                          for k in x["summary"]["metrics"]})
    if metric_keys:
        L.append("Reported by the contenders (median over runs):")
        L.append("")
        L.append("| contender | " + " | ".join(f"`{k}`" for k in metric_keys) + " |")
        L.append("|---|" + "---|" * len(metric_keys))
        for x in c["contenders"]:
            if not x.get("summary"):
                continue
            met = x["summary"]["metrics"]
            L.append(f"| {x['name']} | " + " | ".join(
                fmt_metric(k, met[k]) if k in met else "—" for k in metric_keys) + " |")
        L.append("")
    if c.get("check"):
        L.append(f"Checked equal: {esc(c['check'])}.")
        L.append("")
    if c.get("cap_bytes"):
        L.append(f"Memory cap: {fmt_b(c['cap_bytes'])}.")
        L.append("")
    L.append("Commands:")
    L.append("")
    L.append("```text")
    for x in c["contenders"]:
        env = " ".join(f"{k}={v}" for k, v in x.get("env", {}).items())
        L.append(f"{x['name']}: {(env + ' ') if env else ''}{shorten(x['argv'])}")
    L.append("```")
    L.append("")
    return L


def shorten(argv: list[str]) -> str:
    import shlex

    repo = str(Path(__file__).resolve().parents[3]) + "/"
    home = os.environ.get("HOME", "")
    text = shlex.join(argv).replace(repo, "")
    return text.replace(home, "~") if home else text


def plot_scenario(s: dict, plot_dir: Path) -> Path | None:
    cases = [c for c in s["cases"] if c["status"] != "skipped"
             and any(x.get("summary") for x in c["contenders"])]
    if not cases:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peer_color: dict[str, str] = {}

    def color(x):
        if x["role"] == "peer":
            return peer_color.setdefault(x["name"], PEER_COLORS[len(peer_color) % len(PEER_COLORS)])
        return ROLE_COLORS[x["role"]]

    rows = [[x for x in c["contenders"] if x.get("summary")] for c in cases]
    heights = [0.6 + 0.38 * len(r) for r in rows]
    fig, axes = plt.subplots(len(cases), 2, figsize=(11, 0.8 + sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for (ax1, ax2), c, xs in zip(axes, cases, rows):
        sm = [x["summary"] for x in xs]
        y = list(range(len(xs)))[::-1]
        med = [m["wall_median_s"] for m in sm]
        err = [[m["wall_median_s"] - m["wall_min_s"] for m in sm],
               [m["wall_max_s"] - m["wall_median_s"] for m in sm]]
        colors = [color(x) for x in xs]
        labels = [x["name"] + (" ✗" if x["status"] not in ("ok", "completed") else "")
                  for x in xs]
        ax1.barh(y, med, xerr=err, color=colors, capsize=3)
        ax1.set_yticks(y)
        ax1.set_yticklabels(labels, fontsize=8)
        ax1.set_title(c["title"] + ("  — FAILED, times do not count"
                                    if c["status"] == "failed" else ""),
                      fontsize=9, loc="left", color="#b00000" if c["status"] == "failed"
                      else "black")
        ax2.barh(y, [m["maxrss_max_bytes"] / MiB for m in sm], color=colors)
        ax2.set_yticks(y)
        ax2.set_yticklabels([])
        for ax in (ax1, ax2):
            ax.grid(axis="x", alpha=0.3)
            ax.tick_params(axis="x", labelsize=8)
    axes[-1][0].set_xlabel("wall time, s (median; bars: min–max)")
    axes[-1][1].set_xlabel("peak RSS, MiB")
    from matplotlib.patches import Patch

    handles = [Patch(color=ROLE_COLORS["larder"], label="larder")]
    handles += [Patch(color=col, label=name) for name, col in peer_color.items()]
    if any(x["role"] == "reference" for xs in rows for x in xs):
        handles.append(Patch(color=ROLE_COLORS["reference"], label="reference"))
    fig.suptitle(s["title"], fontsize=11)
    fig.tight_layout(rect=(0, 0.3 / (0.8 + sum(heights)), 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    path = plot_dir / f"{s['name']}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
