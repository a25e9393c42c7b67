#!/usr/bin/env python3
"""Side-by-side benchmarks of larder and the tools users would otherwise pick.

Run it through benches/peers/run (which builds larder and provides the venv). Every scenario in
benches/peers/scenarios/ is measured: each contender is a separate process, contenders run
alternately (A B A B ...) --repeat times, their results are checked equal before any time is
reported, and docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks/*.png are written.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from harnesslib import criterion, envinfo, measure, report  # noqa: E402
from harnesslib.data import DataGen  # noqa: E402
from harnesslib.model import Context, ContractError, Mismatch, close  # noqa: E402

SCENARIOS = ["copy_npy", "convert_csv", "convert_large", "convert_log", "convert_log_large", "scan_sum", "cow", "chunked",
             "groupby", "larger_than_ram", "append", "s3", "remote_groupby", "python"]

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

# Sizes per scale. `full` is what the issues' targets are stated for.
SCALES: dict[str, dict] = {
    "quick": {"array_bytes": 8 * MiB, "copy_bytes": 16 * MiB, "csv_rows": 20_000,
              "large_csv_rows": 50_000, "log_rows": 20_000, "large_log_rows": 40_000,
              "groupby_rows": 20_000, "chunk_elems": 1 << 16,
              "random_reads": 50, "read_len": 1000, "cow_bytes": 8 * MiB, "cap_bytes": 64 * MiB,
              "ltr_bytes": 128 * MiB, "append_rows": 20_000, "append_small_rows": 100_000,
              "append_large_rows": 1_000_000, "s3_bytes": 8 * MiB, "timeout_s": 300},
    "small": {"array_bytes": 256 * MiB, "copy_bytes": 256 * MiB, "csv_rows": 1_000_000,
              "large_csv_rows": 2_000_000, "log_rows": 1_000_000,
              "large_log_rows": 2_000_000, "groupby_rows": 1_000_000, "chunk_elems": 1 << 20,
              "random_reads": 1000, "read_len": 1000, "cow_bytes": 256 * MiB,
              "cap_bytes": 64 * MiB, "ltr_bytes": 512 * MiB, "append_rows": 100_000,
              "append_small_rows": 1_000_000, "append_large_rows": 10_000_000,
              "s3_bytes": 256 * MiB, "timeout_s": 900},
    "medium": {"array_bytes": 1 * GiB, "copy_bytes": 1 * GiB, "csv_rows": 10_000_000,
               "large_csv_rows": 50_000_000, "log_rows": 10_000_000,
               "large_log_rows": 20_000_000, "groupby_rows": 10_000_000, "chunk_elems": 1 << 20,
               "random_reads": 1000, "read_len": 1000, "cow_bytes": 1 * GiB,
               "cap_bytes": 128 * MiB, "ltr_bytes": 1 * GiB, "append_rows": 1_000_000,
               "append_small_rows": 10_000_000, "append_large_rows": 100_000_000,
               "s3_bytes": 1 * GiB, "timeout_s": 1800},
    # large_csv_rows: the 6-column rows average about 43.8 bytes, so 240M rows make ~10.5 GB;
    # the request log's rows average about 130 bytes, so 77M rows make ~10 GB.
    "full": {"array_bytes": 4 * GiB, "copy_bytes": 4 * GiB, "csv_rows": 10_000_000,
             "large_csv_rows": 240_000_000, "log_rows": 10_000_000,
             "large_log_rows": 77_000_000, "groupby_rows": 10_000_000, "chunk_elems": 1 << 20,
             "random_reads": 1000, "read_len": 1000, "cow_bytes": 4 * GiB,
             "cap_bytes": 256 * MiB, "ltr_bytes": 4 * GiB, "append_rows": 1_000_000,
             "append_small_rows": 10_000_000, "append_large_rows": 100_000_000,
             "s3_bytes": 1 * GiB, "timeout_s": 3600},
}

THREAD_VARS = ["RAYON_NUM_THREADS", "POLARS_MAX_THREADS", "OMP_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_MAX_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "DUCKDB_THREADS",
               "LARDER_BENCH_THREADS"]
NUMPY_UNSET = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int | float:
    """`4GiB`, `512MiB`, `64KiB` (binary), `10M`, `20k`, `1G` (decimal, for counts), `0.5`."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(KiB|MiB|GiB|k|K|M|G)?\s*", text)
    if not m:
        raise SystemExit(f"--set: cannot read {text!r} as a number or size")
    mult = {None: 1, "KiB": KiB, "MiB": MiB, "GiB": GiB, "k": 1000, "K": 1000,
            "M": 1_000_000, "G": 1_000_000_000}[m.group(2)]
    value = float(m.group(1)) * mult
    return int(value) if value.is_integer() else value


def args_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="benches/peers/run",
        description="Benchmarks larder against its peers and writes docs/benchmarks.md.")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes, one repetition, equality checks only; writes no docs")
    ap.add_argument("--scale", choices=list(SCALES), default=None,
                    help="data sizes (default: full; --quick implies quick)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one size parameter, e.g. --set copy_bytes=1GiB")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per contender, alternating (default 5; 1 with --quick)")
    ap.add_argument("--only", default=None, metavar="SCENARIO[,..]",
                    help=f"run only these scenarios ({', '.join(SCENARIOS)})")
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("HOME", "/tmp")) / ".cache/larder/bench-data",
                    help="where generated inputs live (reused when their parameters match)")
    ap.add_argument("--out", type=Path, default=REPO / "docs/benchmarks.md",
                    help="the Markdown report; plots go to <out without .md>/*.png and the raw "
                         "results to <out without .md>.json")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="thread count given to every contender (default: all cores)")
    ap.add_argument("--larder", default=str(REPO / "target/release/larder"),
                    help="the larder binary")
    ap.add_argument("--peers-dir", type=Path, default=HERE,
                    help="where the peer scripts are (default: benches/peers)")
    ap.add_argument("--criterion", default=None, metavar="BENCH[,..]|none",
                    help="criterion benches (benches/NAME.rs) to run first and report "
                         "(default: npy,cow for a run of every scenario; none with --quick "
                         "or --only)")
    ap.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return ap


def contender_env(base: dict[str, str], threads: int, c) -> dict[str, str]:
    env = dict(base)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if c.numpy:
        for var in NUMPY_UNSET:
            env.pop(var, None)
    env.update(c.env)
    return env


class Harness:
    def __init__(self, opts) -> None:
        self.opts = opts
        self.help_cache: dict[tuple, tuple[bool, str]] = {}
        self.base_env = dict(os.environ)
        self.failed = False

    # ---- requirements ----------------------------------------------------------------------

    def larder_help(self, sub: list[str]) -> tuple[bool, str]:
        key = tuple(sub)
        if key not in self.help_cache:
            try:
                r = subprocess.run([self.ctx.larder, *sub, "--help"], capture_output=True,
                                   text=True, timeout=30)
                self.help_cache[key] = (r.returncode == 0, r.stdout + r.stderr)
            except OSError as e:
                self.help_cache[key] = (False, str(e))
        return self.help_cache[key]

    def has_larder(self, words: list[str]) -> bool:
        """`["copy", "--chunks"]`: `larder copy --help` works and mentions `--chunks`."""
        sub = [w for w in words if not w.startswith("--")]
        ok, text = self.larder_help(sub)
        return ok and all(w in text for w in words if w.startswith("--"))

    def skip_reason(self, c) -> str | None:
        if c.peer_script and not (self.ctx.peers_dir / c.peer_script).exists():
            return f"peer script benches/peers/{c.peer_script} missing"
        for mod in c.python_modules:
            if importlib.util.find_spec(mod) is None:
                return f"python module {mod} not installed"
        if c.larder_sub is not None:
            ok, text = self.larder_help(c.larder_sub)
            if not ok:
                return f"`larder {' '.join(c.larder_sub)}` not available"
            for flag in c.larder_flags:
                if flag not in text:
                    return f"`larder {' '.join(c.larder_sub)}` has no {flag} option"
        if c.probe is not None:
            return c.probe(self.ctx)
        return None

    # ---- running ---------------------------------------------------------------------------

    def argv(self, c) -> list[str]:
        subst = {"{larder}": self.ctx.larder, "{python}": self.ctx.python}
        return [subst.get(a, a) for a in c.argv]

    def warm_program(self, c, env) -> None:
        """After dropping the page cache, load the contender's program files again, so that a
        cold run measures cold data, not a cold interpreter."""
        argv = self.argv(c)
        if argv[0] == self.ctx.python:
            mods = ",".join(["numpy", *c.python_modules]) if c.numpy or c.python_modules else ""
            code = f"import {mods}" if mods else "pass"
            subprocess.run([self.ctx.python, "-c", code], env=env, capture_output=True)
        else:
            subprocess.run([argv[0], "--version"], env=env, capture_output=True)

    def run_case(self, scen, case) -> dict:
        ctx = self.ctx
        out = {"name": case.name, "title": case.title, "cold": case.cold,
               "cap_bytes": case.cap_bytes, "bytes_processed": case.bytes_processed,
               "note": case.note, "contenders": [], "targets": [], "status": "ok",
               "reason": None, "check": None}
        if case.skip:
            out.update(status="skipped", reason=case.skip)
            return out
        if case.cold and ctx.cold_reason:
            out.update(status="skipped", reason=f"cold not measured: {ctx.cold_reason}")
            return out
        if case.cap_bytes is not None and ctx.cgroup_reason:
            out.update(status="skipped", reason=f"memory cap not applied: {ctx.cgroup_reason}")
            return out
        active = []
        for c in case.contenders:
            rec = {"name": c.name, "role": c.role, "argv": self.argv(c), "note": c.note,
                   "expect": c.expect, "status": "ok", "reason": None, "runs": [],
                   "values": None, "numpy_env": c.numpy,
                   "env": {k: v for k, v in c.env.items()}}
            reason = self.skip_reason(c)
            if reason:
                rec.update(status="skipped", reason=reason)
            else:
                active.append((c, rec))
            out["contenders"].append(rec)
        # The first larder contender is the case's subject: without it the case is skipped.
        # Further larder variants (e.g. `larder stats` beside `larder bench read`) are skipped
        # on their own.
        primary = next((r for r in out["contenders"] if r["role"] == "larder"), None)
        if primary is not None and primary["status"] == "skipped":
            out.update(status="skipped", reason=primary["reason"])
            return out
        if not active:
            out.update(status="skipped", reason="no contender available")
            return out
        timeout = ctx.p("timeout_s")
        for rep in range(self.opts.repeat):
            # Alternate (A B C, B C A, C A B, ...): no contender always runs right after the
            # same other one.
            k = rep % len(active)
            for c, rec in active[k:] + active[:k]:
                if rec["status"] not in ("ok", "killed", "completed"):
                    continue
                env = contender_env(self.base_env, ctx.threads, c)
                for o in c.outputs:
                    remove(o)
                if c.before is not None:
                    c.before(ctx)
                # No writeback of an earlier run's output may overlap this run.
                os.sync()
                if case.cold:
                    measure.drop_caches()
                    self.warm_program(c, env)
                    measure.evict(case.inputs)
                else:
                    # Before every run: an earlier contender may have evicted its input.
                    measure.prewarm(case.inputs)
                log(f"  {case.name} / {c.name} run {rep + 1}/{self.opts.repeat}")
                r = measure.run(self.argv(c), env, cap_bytes=case.cap_bytes, timeout_s=timeout)
                run_rec = {"wall_s": r.wall_s, "maxrss_bytes": r.maxrss_bytes,
                           "rss_anon_peak_bytes": r.rss_anon_peak,
                           "rss_file_peak_bytes": r.rss_file_peak, "user_s": r.user_s,
                           "sys_s": r.sys_s, "returncode": r.returncode,
                           "cgroup_peak_bytes": r.cgroup_peak_bytes,
                           "cgroup_oom_kills": r.cgroup_oom_kills, "metrics": {}}
                rec["runs"].append(run_rec)
                if c.expect == "oom" and r.returncode != 0:
                    rec["status"] = "killed"
                    rec["reason"] = (f"killed as expected ({r.killed_by or r.returncode}, "
                                     f"oom kills: {r.cgroup_oom_kills})")
                    continue
                if r.returncode != 0:
                    why = f"exit {r.killed_by or r.returncode}"
                    if "timed_out_after_s" in r.extra:
                        why = f"timed out after {r.extra['timed_out_after_s']} s"
                    rec.update(status="failed", reason=f"{why}: {tail(r.stderr)}")
                    log(f"  FAILED {c.name}: {rec['reason']}")
                    continue
                try:
                    parsed = c.parse(r, ctx) if c.parse else {}
                    values = dict(parsed.get("values", {}))
                    run_rec["metrics"] = parsed.get("metrics", {})
                    if c.verify and (rep == 0 or self.opts.quick):
                        values.update(c.verify(ctx, values))
                except (ContractError, Mismatch, OSError, ValueError, KeyError) as e:
                    rec.update(status="failed", reason=f"{type(e).__name__}: {e}")
                    log(f"  FAILED {c.name}: {rec['reason']}")
                    continue
                finally:
                    for o in c.outputs:
                        remove(o)
                if rec["values"] is None:
                    rec["values"] = values
                else:
                    differ = runs_differ(rec["values"], values)
                    if differ:
                        rec.update(status="failed", reason=f"run {rep + 1} differs from run 1: "
                                                           f"{differ}")
                if c.expect == "oom":
                    rec["status"] = "completed"
                    rec["reason"] = "completed although expected to be killed under the cap"
        for c, rec in active:
            rec["summary"] = summarize(rec["runs"]) if rec["runs"] else None
        failed = [r for r in out["contenders"] if r["status"] == "failed"]
        if failed:
            out.update(status="failed", reason="; ".join(
                f"{r['name']}: {r['reason']}" for r in failed))
            return out
        values = {r["name"]: r["values"] for r in out["contenders"] if r["values"] is not None}
        if case.check:
            try:
                out["check"] = case.check(values)
            except Mismatch as e:
                out.update(status="failed", reason=f"results differ: {e}")
                return out
        for t in case.targets:
            try:
                res = t.evaluate(out, self.results)
            except (KeyError, TypeError, ZeroDivisionError, ValueError) as e:
                res = (f"not evaluated ({type(e).__name__}: {e})", None)
            if res is None:
                res = ("not measured", None)
            out["targets"].append({"text": t.text, "measured": res[0], "pass": res[1]})
        return out

    def main(self) -> int:
        opts = self.opts
        scale = "quick" if opts.quick else (opts.scale or "full")
        params = dict(SCALES[scale])
        for kv in opts.set:
            k, _, v = kv.partition("=")
            if k not in params:
                sys.exit(f"--set: unknown parameter {k!r} (known: {', '.join(params)})")
            params[k] = parse_size(v)
        opts.data_dir = opts.data_dir.resolve()
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        work = opts.data_dir / f"work-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([opts.larder, "--version"], check=True, capture_output=True,
                           timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            # Without this, every scenario would be "skipped" and a broken build would pass.
            sys.exit(f"harness: cannot run the larder binary {opts.larder}: {e}")
        cold_reason = measure.drop_caches_support()
        cgroup_reason = measure.cgroup_support()
        self.ctx = Context(scale=scale, params=params, data_dir=opts.data_dir, work_dir=work,
                           peers_dir=opts.peers_dir.resolve(), larder=str(Path(opts.larder).resolve()),
                           python=sys.executable, threads=opts.threads,
                           cold_reason=cold_reason, cgroup_reason=cgroup_reason,
                           datagen=DataGen(opts.data_dir, log))
        names = SCENARIOS if not opts.only else [s.strip() for s in opts.only.split(",")]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            sys.exit(f"--only: unknown scenario(s) {unknown} (known: {', '.join(SCENARIOS)})")
        for name in names:  # a broken scenario module stops the run before anything runs
            importlib.import_module(f"scenarios.{name}")
        started = datetime.now(timezone.utc)
        numpy_env = contender_env(self.base_env, opts.threads, type("C", (), {
            "numpy": True, "env": {}})())
        self.results = {
            "schema": 1,
            "command": opts.command_line or shlex.join(sys.argv),
            "scale": scale, "params": params, "repeat": opts.repeat, "threads": opts.threads,
            "full_size": scale == "full" and params == SCALES["full"],
            "overrides": opts.set,
            "started": started.isoformat(timespec="seconds"),
            "cold": "measured (sync; echo 1 > /proc/sys/vm/drop_caches before each run)"
                    if not cold_reason else f"cold not measured: {cold_reason}",
            "cgroup": "cgroup v1 memory controller" if not cgroup_reason
                      else f"memory-capped runs not measured: {cgroup_reason}",
            "machine": envinfo.machine(opts.data_dir),
            "versions": envinfo.versions(REPO, self.ctx.larder, sys.executable),
            "env": {"thread_vars": {v: str(opts.threads) for v in THREAD_VARS},
                    "openblas_in_env": {v: self.base_env.get(v) for v in NUMPY_UNSET},
                    "numpy_contenders_unset": NUMPY_UNSET,
                    "threadpoolctl_numpy_contenders": envinfo.threadpools(sys.executable,
                                                                          numpy_env)},
            "scenarios": [],
        }
        if any(self.base_env.get(v) for v in NUMPY_UNSET):
            self.results["env"]["threadpoolctl_default_env"] = envinfo.threadpools(
                sys.executable, dict(self.base_env))
        try:
            if opts.criterion:
                # First: its compile and its runs must not overlap a peer measurement.
                self.results["criterion"] = criterion.run(
                    REPO, opts.criterion, opts.data_dir / "criterion", log)
            for name in names:
                self.run_scenario(name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        out_md = opts.out
        if opts.quick:
            out_md = opts.data_dir / "quick-report" / "benchmarks.md"
        report.write(self.results, out_md, log)
        log(f"report: {out_md}")
        bad = []
        for s in self.results["scenarios"]:
            for c in s["cases"]:
                line = f"{s['name']} / {c['name']}: {c['status']}"
                if c["reason"]:
                    line += f" ({c['reason']})"
                log(line)
                if c["status"] == "failed":
                    bad.append(line)
            if s["status"] != "ok" and not s["cases"]:
                log(f"{s['name']}: {s['status']} ({s['reason']})")
                if s["status"] == "failed":
                    bad.append(s["name"])
        for b, rec in self.results.get("criterion", {}).get("benches", {}).items():
            if rec.get("error"):
                bad.append(f"criterion bench {b}")
                log(f"criterion bench {b}: FAILED ({rec['error'][-300:]})")
            else:
                log(f"criterion bench {b}: {len(rec['rows'])} benchmark(s)")
        if bad:
            log(f"{len(bad)} case(s) FAILED")
            return 1
        return 0

    def run_scenario(self, name: str) -> dict:
        mod = importlib.import_module(f"scenarios.{name}")
        rec = {"name": name, "title": mod.TITLE, "issue": getattr(mod, "ISSUE", 0),
               "description": mod.DESCRIPTION.strip(), "status": "ok", "reason": None,
               "cases": []}
        # Appended first, so that targets can read earlier cases of this scenario.
        self.results["scenarios"].append(rec)
        log(f"scenario {name}")
        # A scenario none of whose larder subcommands exist is skipped before its (possibly
        # large) data is generated.
        subs = getattr(mod, "LARDER_SUBS", None)
        if subs and not any(self.has_larder(sub) for sub in subs):
            rec.update(status="skipped", reason="; ".join(
                f"`larder {' '.join(sub)}` not available" for sub in subs))
            log(f"  skipped: {rec['reason']}")
            return rec
        try:
            cases = mod.cases(self.ctx)
        except Exception as e:  # noqa: BLE001 - reported, and the run fails loudly
            traceback.print_exc()
            rec.update(status="failed", reason=f"setting up: {type(e).__name__}: {e}")
            return rec
        for case in cases:
            try:
                c = self.run_case(rec, case)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                c = {"name": case.name, "title": case.title, "status": "failed",
                     "reason": f"harness error: {type(e).__name__}: {e}", "contenders": [],
                     "targets": [], "cold": case.cold, "cap_bytes": case.cap_bytes,
                     "bytes_processed": case.bytes_processed, "note": case.note,
                     "check": None}
            rec["cases"].append(c)
        statuses = {c["status"] for c in rec["cases"]}
        if "failed" in statuses:
            rec["status"] = "failed"
        elif statuses == {"skipped"}:
            rec["status"] = "skipped"
            reasons = sorted({c["reason"] for c in rec["cases"]})
            rec["reason"] = "; ".join(reasons)
        return rec


def runs_differ(first: dict, later: dict) -> str | None:
    """Keys both runs of one contender report must agree (floats to 1e-9 relative, also inside
    nested dicts and lists: a multi-threaded peer may sum in another order each run)."""
    for k in first.keys() & later.keys():
        why = values_differ(first[k], later[k])
        if why is not None:
            return f"{k}{why}"
    return None


def values_differ(a, b) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f": keys {sorted(a)} then {sorted(b)}"
        for k in a:
            why = values_differ(a[k], b[k])
            if why is not None:
                return f"[{k!r}]{why}"
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f": {len(a)} items then {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            why = values_differ(x, y)
            if why is not None:
                return f"[{i}]{why}"
        return None
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and close(
            float(a), float(b), 1e-9)
    else:
        ok = a == b
    return None if ok else f": {a!r} then {b!r}"


def remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def tail(text: str, n: int = 400) -> str:
    text = text.strip()
    return text if len(text) <= n else "…" + text[-n:]


def quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 4:
        return min(xs), max(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if r["returncode"] == 0] or runs
    walls = [r["wall_s"] for r in ok]
    q1, q3 = quartiles(walls)
    s = {"n": len(ok), "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
         "wall_max_s": max(walls), "wall_q1_s": q1, "wall_q3_s": q3,
         "maxrss_max_bytes": max(r["maxrss_bytes"] for r in ok),
         "maxrss_median_bytes": statistics.median(r["maxrss_bytes"] for r in ok),
         "rss_anon_peak_bytes": max(r["rss_anon_peak_bytes"] for r in ok),
         "rss_file_peak_bytes": max(r["rss_file_peak_bytes"] for r in ok),
         "cpu_median_s": statistics.median(r["user_s"] + r["sys_s"] for r in ok),
         "metrics": {}}
    peaks = [r["cgroup_peak_bytes"] for r in ok if r.get("cgroup_peak_bytes") is not None]
    if peaks:
        s["cgroup_peak_bytes"] = max(peaks)
    keys = sorted({k for r in ok for k in r["metrics"]})
    for k in keys:
        xs = [r["metrics"][k] for r in ok if isinstance(r["metrics"].get(k), (int, float))]
        if xs:
            s["metrics"][k] = statistics.median(xs)
    return s


def main() -> int:
    opts = args_parser().parse_args()
    if opts.list:
        for name in SCENARIOS:
            mod = importlib.import_module(f"scenarios.{name}")
            print(f"{name:18} {mod.TITLE}")
        return 0
    if opts.repeat is None:
        opts.repeat = 1 if opts.quick else 5
    if opts.repeat < 1:
        sys.exit("--repeat must be at least 1")
    if opts.quick and opts.scale not in (None, "quick"):
        sys.exit("--quick runs the quick scale only")
    if opts.criterion is None:
        opts.criterion = "" if opts.quick or opts.only else "npy,cow"
    opts.criterion = [b.strip() for b in opts.criterion.split(",")
                      if b.strip() and b.strip() != "none"]
    missing = [b for b in opts.criterion if not (REPO / "benches" / f"{b}.rs").exists()]
    if missing:
        sys.exit(f"--criterion: no benches/{missing[0]}.rs")
    return Harness(opts).main()


if __name__ == "__main__":
    sys.exit(main())
