"""A realistic request log → per-column arrays (`larder convert`, issue 15) vs polars and DuckDB."""

from harnesslib import requestlog
from harnesslib.common import faster_than, rss_at_most, size_text
from harnesslib.model import Case, Contender, Mismatch
from scenarios.convert_csv import parse_json_summary

NAME = "convert_log"
TITLE = "Request log (timestamps, free text, missing values) → per-column arrays"
ISSUE = 15
LARDER_SUBS = [["convert"]]  # none available: skipped before data generation
DESCRIPTION = """
A generated web-server request log (fixed seed, `harnesslib/requestlog.py`), `log_rows` rows of
`ts,url,method,status,latency_ms,bytes,agent`: ISO 8601 timestamps with milliseconds, URL
paths about 70 % distinct, 5 methods, 10 statuses, latencies with 1 % `NA`, byte counts with
1 % empty fields, 50 user agents (quoted: many hold a comma). Every contender writes the
dataset layout larder writes: numbers and timestamps as `.npy` (numpy `datetime64`), strings in
Arrow's large-string layout (`NAME.npy` bytes + `NAME.offsets.npy`), categorical codes, and
`NAME.valid.npy` where values are missing. The same log is also read gzip- and
zstd-compressed (`log7_gz`, `log7_zst`: gzip level 6, zstd level 1), by every contender
from the compressed file (issue 17). larder infers every type (the timestamps as
`datetime64[ms]`, `url` as a string column, `method` and `agent` as categoricals);
polars runs `scan_csv(try_parse_dates=True, null_values=NA tokens)` with the streaming engine,
`method` and `agent` cast to categoricals; DuckDB runs `read_csv` with its own inference and
the same NA tokens, fetched as Arrow. Both peers write through one function
(`log_layout.py`), so they differ only in how they read the CSV. The harness checks every
output against the generator: rows, sums and missing counts of the numbers, the first, last and
sum of the timestamps (in ms), the total bytes of `url`, and the counts of every method and
agent (by label where the output names them, else by the sorted sizes of the codes).
"""

MiB = 1 << 20
# pandas' default missing-value tokens, which `larder convert` also uses by default.
NA_TOKENS = ["NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None", "<NA>",
             "#N/A", "#N/A N/A", "#NA", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN"]


def log_verify(out_dir, ref):
    def verify(ctx, values):
        bad = requestlog.compare(ref, requestlog.read_output(out_dir))
        if bad:
            raise Mismatch(f"{out_dir}: " + "; ".join(bad))
        return {"rows": ref["rows"]}

    return verify


def larder_contender(ctx, src, out_dir, ref, name="larder"):
    return Contender(name, ["{larder}", "convert", src, str(out_dir), "--quiet", "--json"],
                     role="larder", larder_sub=["convert"], larder_flags=["--quiet", "--json"],
                     outputs=[out_dir], verify=log_verify(out_dir, ref),
                     parse=parse_json_summary)


def cases(ctx):
    log = ctx.data("requestlog", rows=ctx.p("log_rows"), seed=21)
    ref = log.meta
    na = ",".join(NA_TOKENS)

    def peer(name, script, extra, modules, src, case):
        d = ctx.scratch("convert_log", case, name)
        return Contender(name, ["{python}", ctx.peer(script), src, str(d), "--na", na, *extra],
                         peer_script=script, numpy=True, python_modules=modules,
                         outputs=[d], verify=log_verify(d, ref), parse=parse_json_summary)

    def case(name, path, title, targets):
        src = str(path)
        return Case(
            name=name,
            title=title,
            inputs=[path],
            bytes_processed=ref["bytes_file"],
            contenders=[
                larder_contender(ctx, src, ctx.scratch("convert_log", name, "larder"), ref),
                peer("polars", "convert_log_polars.py", ["--cat", "method", "--cat", "agent"],
                     ["polars", "pyarrow"], src, name),
                peer("duckdb", "convert_log_duckdb.py", [], ["duckdb", "pyarrow"], src, name),
            ],
            targets=targets,
        )

    rows = f"7 columns, {ref['rows']:,} rows"
    out = [case("log7", log.path, f"{rows}, {size_text(ref['bytes_file'])} CSV", [
        faster_than("polars", 2.0, text="throughput ≥ 2× polars"),
        faster_than("duckdb", 1.0, text="throughput ≥ 1× DuckDB"),
        rss_at_most(64 * MiB),
    ])]
    for codec, kind in (("gzip", "requestlog_gz"), ("zstd", "requestlog_zst")):
        packed = ctx.data(kind, rows=ctx.p("log_rows"), seed=21)
        out.append(case(
            f"log7_{'gz' if codec == 'gzip' else 'zst'}", packed.path,
            f"{rows}, {size_text(packed.meta['bytes_packed'])} {codec} CSV "
            f"({size_text(ref['bytes_file'])} uncompressed)", [
                faster_than("polars", 1.5, text=f"{codec}: throughput ≥ 1.5× polars (issue 17)"),
                faster_than("duckdb", 1.0, text=f"{codec}: throughput ≥ 1× DuckDB (issue 17)"),
                rss_at_most(64 * MiB, text=f"{codec}: larder peak RSS ≤ 64 MiB (issue 17)"),
            ]))
    return out
