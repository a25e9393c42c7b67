#!/usr/bin/env bash
# What zone maps cost a conversion: time and bytes, medians of several runs.
#
#   benches/zones-overhead.sh [ROWS] [RUNS] [WORKDIR]
#
# Converts the `wide` generated CSV (timestamp, machine, region as a categorical, status,
# duration, bytes; see benches/gen_csv.rs) RUNS times (default 5) and times `larder index` on
# each result: that is the pass that would build the zone maps if a conversion ran it before
# its final rename, so its share of the conversion is what that would add. Prints one JSON line per run and a summary:
#   {"rows": N, "convert_s": median, "zones_s": median, "time_overhead": median of
#    zones_s / (convert_s - zones_s), "data_bytes": B, "zone_bytes": B, "size_overhead": R}
# The binary is $LARDER, or the release build (made here if missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rows="${1:-2000000}"
runs="${2:-5}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
target="${CARGO_TARGET_DIR:-$here/../target}/release"
if [[ -z "${LARDER:-}" ]]; then
    cargo build --release --bin larder --example gen_csv >&2
    LARDER="$target/larder"
fi
gen="${GEN_CSV:-$target/examples/gen_csv}"
csv="$work/wide-$rows.csv"
[[ -f "$csv" ]] || "$gen" wide "$rows" >"$csv"

results=()
for i in $(seq "$runs"); do
    out="$work/out"
    rm -rf "$out"
    t0=$(date +%s.%N)
    "$LARDER" convert "$csv" "$out" --type region=cat --type machine=cat >/dev/null
    t1=$(date +%s.%N)
    "$LARDER" index "$out" >/dev/null
    t2=$(date +%s.%N)
    zone_bytes=$(du -sb "$out/zones" | cut -f1)
    all_bytes=$(du -sb "$out" | cut -f1)
    line=$(printf '{"run": %d, "convert_s": %s, "zones_s": %s, "data_bytes": %d, "zone_bytes": %d}' \
        "$i" "$(python3 -c "print($t1 - $t0)")" "$(python3 -c "print($t2 - $t1)")" \
        "$((all_bytes - zone_bytes))" "$zone_bytes")
    echo "$line"
    results+=("$line")
done
rm -rf "$work/out"

printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin]
med = lambda k: statistics.median(r[k] for r in runs)
over = statistics.median(r["zones_s"] / (r["convert_s"] - r["zones_s"]) for r in runs)
print(json.dumps({"rows": int(sys.argv[1]), "convert_s": med("convert_s"), "zones_s": med("zones_s"),
                  "time_overhead": round(over, 5), "data_bytes": runs[0]["data_bytes"],
                  "zone_bytes": runs[0]["zone_bytes"],
                  "size_overhead": round(runs[0]["zone_bytes"] / runs[0]["data_bytes"], 5)}))
' "$rows"
