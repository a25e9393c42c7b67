#!/usr/bin/env bash
# Larger than RAM, for real: `larder stats` on an array several times larger than a memory cap,
# inside a cgroup (v1 memory controller) capped at that size, must finish with the right answer;
# reading the same file into memory (numpy's np.load without mmap) under the same cap must be
# killed.
#
#   tests/larger_than_ram.sh [--size-mib N] [--cap-mib M] [--larder PATH] [--keep]
#
# Defaults: a 960 MiB float64 array (kept under 1 GiB on disk) and a 256 MiB cap, which runs in
# well under a minute. For the real run use e.g. --size-mib 4096 --cap-mib 256.
#
# Needs root and a writable /sys/fs/cgroup/memory; otherwise it prints "skipped: <why>" and
# exits 0. Needs a Python with numpy: $LARDER_PYTHON, or the venv from scripts/python-env.
# The last line printed is a JSON summary of what was measured.
set -euo pipefail

size_mib=960
cap_mib=256
larder=""
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size-mib) size_mib="$2"; shift 2 ;;
        --cap-mib) cap_mib="$2"; shift 2 ;;
        --larder) larder="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
skip() { echo "skipped: $*"; exit 0; }

cgroot=/sys/fs/cgroup/memory
[[ "$(id -u)" == 0 ]] || skip "needs root to create a memory cgroup"
[[ -d "$cgroot" && -w "$cgroot" ]] || skip "no writable cgroup v1 memory controller at $cgroot"
[[ -f "$cgroot/memory.limit_in_bytes" ]] || skip "$cgroot is not a cgroup v1 memory hierarchy"

if [[ -z "$larder" ]]; then
    (cd "$here" && cargo build --release --quiet --features cli,s3)
    larder="${CARGO_TARGET_DIR:-$here/target}/release/larder"
fi
[[ -x "$larder" ]] || { echo "larder binary not found at $larder" >&2; exit 1; }
py="${LARDER_PYTHON:-$("$here/scripts/python-env" | tail -n1)}"

work="$(mktemp -d "${TMPDIR:-/tmp}/larder-ltr.XXXXXX")"
group="$cgroot/larder-ltr-$$"
cleanup() {
    if [[ -d "$group" ]]; then
        # Move anything left back to the root group, then remove ours.
        while read -r pid; do echo "$pid" > "$cgroot/cgroup.procs" 2>/dev/null || true; done \
            < "$group/cgroup.procs" 2>/dev/null || true
        rmdir "$group" 2>/dev/null || true
    fi
    [[ "$keep" == 1 ]] || rm -rf -- "$work"
}
trap cleanup EXIT

file="$work/big.npy"
echo "writing a ${size_mib} MiB float64 array to $file" >&2
# x[i] = (i % 1000) * 0.5 - 100, one NaN at i = 12345: every partial sum is exact in float64,
# so the expected sum is exact. The file is written in 64 MiB pieces and dropped from the page
# cache afterwards, so the run below reads it from disk.
expected="$("$py" - "$file" "$size_mib" <<'EOF'
import json, os, sys
import numpy as np
path, mib = sys.argv[1], int(sys.argv[2])
n = mib * (1 << 20) // 8
a = np.lib.format.open_memmap(path, mode="w+", dtype="<f8", shape=(n,))
step = 8 << 20
for s in range(0, n, step):
    e = min(n, s + step)
    a[s:e] = (np.arange(s, e) % 1000) * 0.5 - 100.0
a[12345] = np.nan
a.flush()
del a
fd = os.open(path, os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
# Exact expected values with Python integers (in halves).
full, rest = divmod(n, 1000)
halves = full * sum(range(1000)) + sum(range(rest)) - 200 * n
halves -= (12345 % 1000) - 200
print(json.dumps({"count": n - 1, "nan_count": 1, "sum": halves / 2, "min": -100.0,
                  "max": 399.5 if n >= 1000 else None, "elements": n}))
EOF
)"

mkdir "$group"
echo $((cap_mib << 20)) > "$group/memory.limit_in_bytes"
# No swap on these machines, but cap it too where the kernel offers it.
[[ -f "$group/memory.memsw.limit_in_bytes" ]] && \
    echo $((cap_mib << 20)) > "$group/memory.memsw.limit_in_bytes" 2>/dev/null || true

# Runs "$@" inside the group with stdout to $1; sets rc, secs and rss (KiB, "?" if unknown).
in_group() {
    local stdout="$1"; shift
    local timer=()
    [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -o "$work/time.txt" -f '%e %M')
    rm -f "$work/time.txt"
    local start; start="$(date +%s.%N)"
    set +e
    sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$group" "${timer[@]}" "$@" \
        > "$stdout" 2> "$work/stderr.txt"
    rc=$?
    set -e
    secs="$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)"
    rss="?"
    if [[ -s "$work/time.txt" ]]; then
        read -r secs rss < <(tail -n1 "$work/time.txt")
    fi
}

echo "larder stats under a ${cap_mib} MiB cap" >&2
echo 0 > "$group/memory.max_usage_in_bytes" 2>/dev/null || true
in_group "$work/stats.json" "$larder" stats --json "$file"
larder_rc="$rc"; larder_secs="$secs"; larder_rss="$rss"
[[ "$larder_rc" == 0 ]] || cat "$work/stderr.txt" >&2
group_peak="$(cat "$group/memory.max_usage_in_bytes" 2>/dev/null || echo 0)"
got="$(cat "$work/stats.json")"

echo "np.load without mmap under the same cap (should be killed)" >&2
in_group /dev/null "$py" -c "import numpy as np, sys; print(np.load(sys.argv[1]).sum())" "$file"
load_rc="$rc"

"$py" - "$expected" "$got" "$larder_rc" "$larder_secs" "$larder_rss" "$group_peak" "$load_rc" \
    "$cap_mib" <<'EOF'
import json, sys
exp, got = json.loads(sys.argv[1]), json.loads(sys.argv[2] or "{}")
rc, secs, rss_kib, peak, load_rc, cap = sys.argv[3:9]
ok = True
def check(cond, what):
    global ok
    print(("ok:   " if cond else "FAIL: ") + what)
    ok &= cond
check(rc == "0", f"larder exited with status {rc}")
check(got.get("count") == exp["count"], f"count {got.get('count')} == {exp['count']}")
check(got.get("nan_count") == 1, f"nan_count {got.get('nan_count')} == 1")
check(got.get("sum") == exp["sum"], f"sum {got.get('sum')} == {exp['sum']} (exact)")
check(got.get("min") == exp["min"] and got.get("max") == exp["max"], "min and max")
cap_b = int(cap) << 20
rss_b = int(rss_kib) * 1024 if rss_kib.isdigit() else 0
check(rss_b <= cap_b, f"larder peak RSS {rss_b >> 20} MiB <= cap {cap} MiB")
check(load_rc not in ("0", ""), f"np.load without mmap did not complete (exit status {load_rc})")
size = exp["elements"] * 8
summary = {"size_mib": size >> 20, "cap_mib": int(cap), "larder_seconds": float(secs),
           "larder_mib_per_s": round(size / float(secs) / (1 << 20), 1),
           "larder_peak_rss_mib": round(rss_b / (1 << 20), 1),
           "cgroup_peak_mib": round(int(peak) / (1 << 20), 1),
           "np_load_exit_status": int(load_rc) if load_rc.lstrip("-").isdigit() else None,
           "passed": bool(ok)}
print(json.dumps(summary))
sys.exit(0 if ok else 1)
EOF
