"""`larder copy` of a large .npy (npy → npy, native order) vs numpy, with `dd` as a reference."""

from harnesslib.common import size_text
from harnesslib.common import npy_verify, rss_at_most
from harnesslib.model import Case, Contender, check_equal, last_json

NAME = "copy_npy"
TITLE = "Copy a .npy file (npy → npy, native byte order)"
ISSUE = 5
LARDER_SUBS = [["copy"]]  # none available: skipped before data generation
DESCRIPTION = """
A float64 array of random values (`copy_bytes`) is copied to a new `.npy`. numpy's way is
`np.save(dst, np.load(src, mmap_mode="r"))`; `dd bs=1M` is a plain byte copy (read and write
in 1 MiB blocks, small enough to stay in the CPU cache) for reference. The source is in the page cache (warm); outputs are not
fsynced by any contender, and the harness syncs between runs so that no earlier writeback
overlaps a run. Every output is checked: same
dtype, shape and sha1 of the data bytes as the source.
"""


def cases(ctx):
    src = ctx.data("array_f64", nbytes=ctx.p("copy_bytes"), seed=2)
    dst = ctx.scratch("copy_npy", "dst.npy")
    verify = npy_verify(dst)
    source_values = {"dtype": "<f8", "shape": [src.meta["count"]],
                     "data_sha1": src.meta["data_sha1"]}

    def check(values):
        return check_equal({"generated source": source_values, **values},
                           {"dtype": 0, "shape": 0, "data_sha1": 0})

    def parse_numpy(run, ctx):
        d = last_json(run.stdout)
        return {"values": {}, "metrics": {"elements": d.get("elements")}}

    return [Case(
        name="npy_to_npy",
        title=f"copy {size_text(src.meta['bytes'])} float64 .npy, warm",
        inputs=[src.path],
        bytes_processed=src.meta["bytes"],
        check=check,
        contenders=[
            Contender("larder", ["{larder}", "copy", str(src.path), str(dst)], role="larder",
                      larder_sub=["copy"], verify=verify, outputs=[dst]),
            Contender("numpy", ["{python}", ctx.peer("copy_numpy.py"), str(src.path), str(dst)],
                      numpy=True, peer_script="copy_numpy.py", parse=parse_numpy, verify=verify,
                      outputs=[dst], python_modules=["numpy"]),
            Contender("dd", ["dd", f"if={src.path}", f"of={dst}", "bs=1M", "status=none"],
                      role="reference", verify=verify, outputs=[dst],
                      note="plain byte copy with read/write in 1 MiB blocks"),
        ],
        targets=[rss_at_most(256 << 20, text="`larder copy` peak RSS ≤ 256 MiB (issue 5)")],
    )]
