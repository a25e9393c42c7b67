"""The plug-in model: a scenario module builds `Case`s of `Contender`s.

A scenario module in benches/peers/scenarios/ defines:

    NAME = "copy_npy"                  # used by --only
    TITLE = "..."                      # table heading
    ISSUE = 5                          # where its targets come from (0: none)
    DESCRIPTION = "..."                # one paragraph for docs/benchmarks.md
    def cases(ctx: Context) -> list[Case]

`cases` asks `ctx.data(...)` for the inputs it needs (generated once, deterministically, cached
under --data-dir) and returns the cases to measure. Nothing is run at that point: the harness
checks each contender's requirements, runs the contenders alternately, checks the results equal
and evaluates the targets.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


class Mismatch(Exception):
    """Contenders disagree on the result: the case fails and no time is reported as valid."""


class ContractError(Exception):
    """A contender's output does not follow the JSON contract in benches/peers/README.md."""


@dataclass
class Contender:
    """One program measured in a case.

    `argv` may start with the placeholder "{larder}" or "{python}" (replaced by the harness).
    `parse(run_result, ctx)` returns a dict: the values compared across contenders under the key
    "values", and numbers shown in the tables under "metrics" (seconds end in `_s`, bytes in
    `_bytes`). `verify(ctx)` (optional) is called after a run to check its outputs and may add
    values of its own (e.g. a checksum of the file it wrote).
    """

    name: str
    argv: list[str]
    role: str = "peer"  # "larder", "peer" or "reference"
    env: dict[str, str] = field(default_factory=dict)
    numpy: bool = False  # a numpy process: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are unset for it
    larder_sub: list[str] | None = None  # e.g. ["stats"]; skipped if `larder stats --help` fails
    larder_flags: list[str] = field(default_factory=list)  # flags its --help must mention
    peer_script: str | None = None  # file in benches/peers/; skipped if missing
    python_modules: list[str] = field(default_factory=list)
    parse: Callable[[Any, "Context"], dict] | None = None
    verify: Callable[["Context", dict], dict] | None = None
    probe: Callable[["Context"], str | None] | None = None  # returns a skip reason or None
    outputs: list[Path] = field(default_factory=list)  # removed before and after each run
    before: Callable[["Context"], None] | None = None  # called before each run (untimed)
    expect: str = "ok"  # "ok" or "oom" (expected to be killed under the memory cap)
    note: str = ""


@dataclass
class Target:
    """A goal from an issue. `evaluate(case_result, all_results)` -> (measured text, passed)."""

    text: str
    evaluate: Callable[[dict, dict], tuple[str, bool] | None]


@dataclass
class Case:
    """One measured situation: the same inputs for every contender."""

    name: str
    title: str
    contenders: list[Contender]
    check: Callable[[dict[str, dict]], str] | None = None  # values by contender -> detail text
    inputs: list[Path] = field(default_factory=list)  # warmed (or dropped, if cold) before runs
    bytes_processed: int | None = None  # for throughput columns
    cold: bool = False
    cap_bytes: int | None = None
    targets: list[Target] = field(default_factory=list)
    skip: str | None = None  # set by a scenario when it knows the case cannot run here
    note: str = ""


@dataclass
class Context:
    """What scenarios see: sizes, paths and data generation."""

    scale: str
    params: dict[str, Any]
    data_dir: Path
    work_dir: Path
    peers_dir: Path
    larder: str
    python: str
    threads: int
    cold_reason: str | None  # None if the page cache can be dropped
    cgroup_reason: str | None  # None if memory-capped runs work
    datagen: Any = None

    def p(self, key: str) -> Any:
        """A size parameter (see SCALES in harness.py; override with --set key=value)."""
        return self.params[key]

    def data(self, kind: str, **params: Any):
        """A generated data set (see harnesslib/data.py), reused when its parameters match."""
        return self.datagen.get(kind, **params)

    def scratch(self, *parts: str) -> Path:
        """A path under the run's scratch directory (inside --data-dir), parents created."""
        path = self.work_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def peer(self, script: str) -> str:
        return str(self.peers_dir / script)


# ---- helpers shared by scenarios -------------------------------------------------------------


def last_json(stdout: str) -> dict:
    """The last line of stdout that parses as a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") or line.startswith("["):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            return value
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        raise ContractError(f"no JSON object on stdout (got {stdout[-300:]!r})") from None


def require(d: dict, *keys: str, what: str = "output") -> list[Any]:
    missing = [k for k in keys if k not in d]
    if missing:
        raise ContractError(f"{what} lacks key(s) {missing}: {json.dumps(d)[:300]}")
    return [d[k] for k in keys]


def close(a: float, b: float, rel: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def check_equal(values: dict[str, dict], keys: dict[str, float]) -> str:
    """Checks that every contender reporting a key agrees on it (relative tolerance per key).

    Raises Mismatch naming the contenders and values; returns a short description of what was
    compared. A key nobody reports is an error: a check that compares nothing is not a check.
    """
    compared = []
    for key, rel in keys.items():
        have = {name: v[key] for name, v in values.items() if key in v}
        if not have:
            raise Mismatch(f"no contender reported {key!r}")
        names = list(have)
        ref = have[names[0]]
        for n in names[1:]:
            ok = close(ref, have[n], rel) if isinstance(ref, (int, float)) else ref == have[n]
            if not ok:
                raise Mismatch(f"{key}: {names[0]}={ref!r} but {n}={have[n]!r}")
        compared.append(f"{key} ({len(names)} agree" + (f", rel. tol. {rel:g})" if rel else ")"))
    return "; ".join(compared)
