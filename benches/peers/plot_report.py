#!/usr/bin/env python3
"""Draw a scenario's plot from its tables in docs/benchmarks.md, without measuring anything.

Usage:
    "$(scripts/python-env | tail -n1)" benches/peers/plot_report.py python
    plot_report.py SCENARIO [--md docs/benchmarks.md] [-o docs/benchmarks]

`harness.py` draws each scenario's plot from its results when it writes docs/benchmarks.md. A
section measured apart and pasted into the page (the `python` scenario needs its own release
build of the package) has no plot, and docs/benchmarks.json holds an older run of it. This
reads the section's tables back — for each case (`### TITLE`), each contender's median wall
time, its min–max spread, peak RSS and status, as the page prints them — and draws them with
the harness's own `harnesslib.report.plot_scenario`, to docs/benchmarks/SCENARIO.png. The
plot then shows exactly the figures of the tables beside it. The section is the `## ` heading
that starts with the scenario's title (from its module in scenarios/). Needs matplotlib
(scripts/requirements.txt).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from harnesslib import report  # noqa: E402

UNITS = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}
BYTES = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def seconds(text: str) -> float:
    number, unit = text.split()
    return float(number) * UNITS[unit]


def size(text: str) -> float:
    number, unit = text.split()
    return float(number) * BYTES[unit]


def section(md: str, title: str) -> str:
    """The text of the `## TITLE…` section of the page."""
    start = md.find(f"\n## {title}")
    if start < 0:
        raise SystemExit(f"no section '## {title}' in the report")
    end = md.find("\n## ", start + 4)
    return md[start : end if end >= 0 else len(md)]


def cases(text: str) -> list[dict]:
    """Each `### case` of a section with the contenders of its first table."""
    out = []
    for part in re.split(r"\n### ", text)[1:]:
        title, _, body = part.partition("\n")
        contenders = []
        for line in body.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 8 or cells[0] in ("contender", "---") or cells[1] in ("median", "---"):
                if contenders:
                    break  # the first table only
                continue
            name, median, spread, _, peak = cells[:5]
            status = cells[-1]
            m = re.match(r"(.+?)–(.+?), n=(\d+)", spread)
            if median == "—" or m is None:
                continue
            contenders.append({
                "name": name.strip("*"),
                "role": "larder" if name.startswith("**") else "peer",
                "status": status,
                "summary": {
                    "n": int(m.group(3)),
                    "wall_median_s": seconds(median),
                    "wall_min_s": seconds(m.group(1)),
                    "wall_max_s": seconds(m.group(2)),
                    "maxrss_max_bytes": size(peak),
                },
            })
        if contenders:
            ok = all(c["status"] in ("ok", "completed") for c in contenders)
            out.append({"title": title.strip(), "status": "ok" if ok else "failed",
                        "contenders": contenders})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", help="a scenario name (scenarios/NAME.py)")
    ap.add_argument("--md", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "benchmarks")
    args = ap.parse_args()
    title = report._scenario_module(args.scenario).TITLE
    found = cases(section(args.md.read_text(), title))
    if not found:
        print(f"{args.md}: no measured case under '## {title}'", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    s = {"name": args.scenario, "title": title, "cases": found}
    print(report.plot_scenario(s, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
