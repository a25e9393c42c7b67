#!/usr/bin/env bash
# Side-by-side comparison of `larder convert` with polars and pandas on generated CSV files.
#
#   benches/convert.sh [ROWS] [WORKDIR]
#
# ROWS defaults to 1000000; WORKDIR (default: a new temporary directory) keeps the generated
# inputs between runs. Each tool runs as a separate process on the same file, one after the
# other; every run prints one JSON line:
#   {"file": "narrow"|"wide", "tool": ..., "rows": N, "seconds": S, "inner_seconds": S,
#    "peak_rss_bytes": B}
# `seconds` is the whole process (start-up and imports included), measured outside it;
# `inner_seconds` is what the tool reports for its own work.
# The python peers come from $PY, or from the project's pinned venv (scripts/python-env).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rows="${1:-1000000}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"

if [[ -z "${PY:-}" ]]; then
    PY="$("$here/../scripts/python-env" | tail -n1)"
fi

cargo build --release --features cli,s3 --bin larder --example gen_csv >&2
target="${CARGO_TARGET_DIR:-$here/../target}/release"

for kind in narrow wide; do
    csv="$work/$kind-$rows.csv"
    [[ -f "$csv" ]] || "$target/examples/gen_csv" "$kind" "$rows" >"$csv"
    ltypes=(--type machine=cat)
    pcats=(--cat machine)
    if [[ "$kind" == wide ]]; then
        ltypes+=(--type region=cat)
        pcats+=(--cat region)
    fi
    for tool in larder polars pandas pandas-chunked; do
        out="$work/out-$tool-$kind"
        rm -rf "$out"
        t0=$(date +%s.%N)
        case "$tool" in
            larder) r=$("$target/larder" convert "$csv" "$out" "${ltypes[@]}" --quiet --json) ;;
            polars) r=$("$PY" "$here/peers/convert_polars.py" "$csv" "$out" "${pcats[@]}") ;;
            pandas) r=$("$PY" "$here/peers/convert_pandas.py" "$csv" "$out" "${pcats[@]}") ;;
            pandas-chunked)
                r=$("$PY" "$here/peers/convert_pandas.py" "$csv" "$out" "${pcats[@]}" \
                    --chunksize 1000000) ;;
        esac
        t1=$(date +%s.%N)
        "$PY" -c 'import json,sys; r=json.loads(sys.argv[3]); print(json.dumps({"file": sys.argv[1], "tool": sys.argv[2], "rows": r["rows"], "seconds": round(float(sys.argv[5]) - float(sys.argv[4]), 3), "inner_seconds": round(r["seconds"], 3), "peak_rss_bytes": r["peak_rss_bytes"]}))' "$kind" "$tool" "$r" "$t0" "$t1"
        rm -rf "$out"
    done
done
