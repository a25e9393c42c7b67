"""RSS growth and time of ds.to_pandas() over a numeric dataset, before and after values are
touched. Run in a scratch directory: python python/bench/to_pandas_rss.py ROWS (writes num.csv,
converts it to num/, removes the CSV; delete num/ after)."""
import os, sys, time
import numpy as np
import larder
import pandas, pyarrow  # imported before measuring: their own memory is not the data's

def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

rows = int(sys.argv[1])
csv, out = "num.csv", "num"
if not os.path.exists(out):
    rng = np.random.default_rng(1)
    with open(csv, "w") as f:
        f.write("a,b,c,d\n")
        block = 1_000_000
        for lo in range(0, rows, block):
            n = min(block, rows - lo)
            m = np.column_stack([np.arange(lo, lo + n), rng.integers(0, 1000, n), rng.random(n), rng.random(n)])
            np.savetxt(f, m, fmt=["%d", "%d", "%.6f", "%.6f"], delimiter=",")
    t = time.perf_counter()
    print(larder.convert(csv, out))
    print(f"convert: {time.perf_counter() - t:.1f} s")
    os.remove(csv)
ds = larder.open_dataset(out)
nbytes = sum(os.path.getsize(os.path.join(out, c["file"])) for c in ds.manifest["columns"])
os.system(f"cat {out}/*.npy > /dev/null")  # warm page cache, so timings are of mapping not disk
r0 = rss_mib()
t = time.perf_counter()
df = ds.to_pandas()
dt = time.perf_counter() - t
r1 = rss_mib()
t = time.perf_counter()
s = df["c"].sum()
dt_sum = time.perf_counter() - t
r2 = rss_mib()
print(f"dataset {nbytes / 2**20:.0f} MiB, {len(ds)} rows: to_pandas {dt * 1000:.1f} ms, RSS +{r1 - r0:.1f} MiB; "
      f"after df['c'].sum() ({dt_sum * 1000:.1f} ms) RSS +{r2 - r0:.1f} MiB")
