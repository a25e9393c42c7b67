"""Group-by over a converted dataset (`larder groupby`, issue 6) vs polars and DuckDB."""

from harnesslib.common import faster_than
from harnesslib.model import Case, Contender, ContractError, Mismatch, close, last_json

NAME = "groupby"
TITLE = "Group-by: 12 groups, 3 aggregates"
ISSUE = 6
LARDER_SUBS = [["groupby"]]  # none available: skipped before data generation
DESCRIPTION = """
A dataset in larder's converted layout (one `.npy` per column plus `manifest.json`;
`groupby_rows` rows, written directly by the generator so this scenario does not depend on
`larder convert`): per `region` (categorical, 12 values) the row count, sum and mean of
`duration` and max of `bytes`. polars and DuckDB read the same `.npy` columns (memory-mapped)
and use their own group-by (`groupby_polars.py`: `DataFrame.group_by().agg()`;
`groupby_duckdb.py`: SQL `GROUP BY` over the arrays). Every group's values are checked against
the generator's. The peers also report the time of loading + grouping inside their process
(`inner_s`).
"""

AGG = "count,sum:duration,mean:duration,max:bytes"
KEYS = AGG.split(",")


def parse_groups(run, ctx):
    """`{"by", "keys": [...], "aggregates": {"count": [...], ...}, "seconds"?}` (the shape of
    `larder groupby --json`; the peers print the same)."""
    d = last_json(run.stdout)
    if not isinstance(d, dict):
        raise ContractError(f"group-by output is not a JSON object: {str(d)[:200]}")
    keys, aggs = d.get("keys"), d.get("aggregates")
    if not isinstance(keys, list) or not isinstance(aggs, dict):
        raise ContractError(f"group-by JSON needs \"keys\" and \"aggregates\": {str(d)[:200]}")
    missing = [k for k in KEYS if k not in aggs]
    if missing:
        raise ContractError(f"group-by JSON lacks aggregates {missing}")
    for k in KEYS:
        if not isinstance(aggs[k], list) or len(aggs[k]) != len(keys):
            raise ContractError(f"aggregate {k!r} has not one value per key")
    out = {str(key): {k: aggs[k][i] for k in KEYS} for i, key in enumerate(keys)}
    metrics = {}
    if isinstance(d.get("seconds"), (int, float)):
        metrics["inner_s"] = d["seconds"]
    return {"values": {"groups": out}, "metrics": metrics}


def cases(ctx):
    ds = ctx.data("dataset6", rows=ctx.p("groupby_rows"), seed=13)
    ref = ds.meta["groupby_region"]

    def check(values):
        for name, v in values.items():
            got = v["groups"]
            if set(got) != set(ref):
                raise Mismatch(f"{name}: groups {sorted(got)} != expected {sorted(ref)}")
            for key, exp in ref.items():
                for k in KEYS:
                    tol = 1e-9 if k.startswith(("sum", "mean")) else 0
                    if not close(float(got[key][k]), float(exp[k]), tol):
                        raise Mismatch(f"{name}: group {key} {k} = {got[key][k]}, "
                                       f"expected {exp[k]}")
        return (f"{len(ref)} groups × {len(KEYS)} aggregates match the generator "
                f"({len(values)} contenders; sums/means rel. tol. 1e-9)")

    args = [str(ds.path), "--by", "region", "--agg", AGG]
    return [Case(
        name="region",
        title=f"{ds.meta['rows']:,} rows by region",
        inputs=[ds.path], check=check,
        contenders=[
            Contender("larder", ["{larder}", "groupby", *args, "--json"], role="larder",
                      larder_sub=["groupby"], larder_flags=["--json"], parse=parse_groups),
            Contender("polars", ["{python}", ctx.peer("groupby_polars.py"), *args], numpy=True,
                      peer_script="groupby_polars.py", parse=parse_groups,
                      python_modules=["polars"]),
            Contender("duckdb", ["{python}", ctx.peer("groupby_duckdb.py"), *args], numpy=True,
                      peer_script="groupby_duckdb.py", parse=parse_groups,
                      python_modules=["duckdb"]),
        ],
        targets=[faster_than("polars", 2.0), faster_than("duckdb", 2.0)],
    )]
