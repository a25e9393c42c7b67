"""Self-tests of the benchmark harness: `python -m unittest discover -s benches/peers`.

They check the parts whose mistakes would silently corrupt every table: the peak-RSS
measurement, exit/signal reporting, the memory cap, the equality checks and the data cache.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import parse_size, runs_differ, summarize  # noqa: E402
from harnesslib import criterion, measure  # noqa: E402
from harnesslib.data import DataGen, npy_data_sha1, read_dataset  # noqa: E402
from harnesslib.model import Mismatch, check_equal, last_json  # noqa: E402

MiB = 1 << 20
PY = sys.executable
ENV = dict(os.environ)


class Measure(unittest.TestCase):
    def test_peak_rss_is_the_contenders_own(self):
        small = measure.run(["/bin/true"], ENV)
        self.assertEqual(small.returncode, 0)
        # The harness process itself is much larger; none of it may show up here.
        self.assertLess(small.maxrss_bytes, 16 * MiB)

    def test_peak_rss_counts_touched_memory(self):
        code = "b = bytearray(96 * 1024 * 1024); print('{\"n\": %d}' % len(b))"
        r = measure.run([PY, "-c", code], ENV)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(r.maxrss_bytes, 96 * MiB)
        self.assertLess(r.maxrss_bytes, 96 * MiB + 64 * MiB)
        self.assertEqual(last_json(r.stdout), {"n": 96 * MiB})
        self.assertGreater(r.wall_s, 0)

    def test_exit_code_and_signal_are_reported(self):
        self.assertEqual(measure.run([PY, "-c", "raise SystemExit(3)"], ENV).returncode, 3)
        r = measure.run([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                        ENV)
        self.assertEqual(r.killed_by, "SIGKILL")

    def test_timeout_kills_the_contender(self):
        r = measure.run(["sleep", "30"], ENV, timeout_s=0.5)
        self.assertLess(r.wall_s, 10)
        self.assertEqual(r.killed_by, "SIGKILL")
        self.assertEqual(r.extra["timed_out_after_s"], 0.5)

    def test_memory_cap_kills_a_process_that_exceeds_it(self):
        reason = measure.cgroup_support()
        if reason:
            self.skipTest(f"memory cgroup not available: {reason}")
        code = "b = bytearray(256 * 1024 * 1024)"
        r = measure.run([PY, "-c", code], ENV, cap_bytes=64 * MiB)
        self.assertEqual(r.killed_by, "SIGKILL")
        ok = measure.run([PY, "-c", "b = bytearray(8 * 1024 * 1024)"], ENV, cap_bytes=64 * MiB)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertLessEqual(ok.cgroup_peak_bytes, 64 * MiB)


class Checks(unittest.TestCase):
    def test_check_equal_accepts_within_tolerance_and_rejects_beyond(self):
        v = {"a": {"sum": 1.0, "n": 3}, "b": {"sum": 1.0 + 1e-12, "n": 3}}
        self.assertIn("sum", check_equal(v, {"sum": 1e-9, "n": 0}))
        v["b"]["n"] = 4
        with self.assertRaises(Mismatch):
            check_equal(v, {"sum": 1e-9, "n": 0})

    def test_check_equal_refuses_to_compare_nothing(self):
        with self.assertRaises(Mismatch):
            check_equal({"a": {}, "b": {}}, {"sum": 0})

    def test_runs_agree_within_tolerance_inside_nested_values(self):
        a = {"groups": {"x": {"count": 3, "sum": 0.1 + 0.2}}, "n": [1.0, 2]}
        b = {"groups": {"x": {"count": 3, "sum": 0.3}}, "n": [1.0, 2]}
        self.assertIsNone(runs_differ(a, b))
        c = {"groups": {"x": {"count": 4, "sum": 0.3}}}
        self.assertIn("count", runs_differ(a, c))
        self.assertIsNotNone(runs_differ({"n": [1.0]}, {"n": [1.1]}))

    def test_runs_of_one_contender_must_agree_on_shared_keys(self):
        self.assertIsNone(runs_differ({"sum": 1.0, "n": 2}, {"sum": 1.0 + 1e-13}))
        self.assertIsNone(runs_differ({}, {}))
        self.assertIn("n", runs_differ({"n": 2}, {"n": 3}))

    def test_parse_size(self):
        self.assertEqual(parse_size("4GiB"), 4 << 30)
        self.assertEqual(parse_size("512MiB"), 512 << 20)
        self.assertEqual(parse_size("10M"), 10_000_000)
        self.assertEqual(parse_size("0.5"), 0.5)

    def test_summary_median_and_spread(self):
        runs = [{"wall_s": w, "returncode": 0, "maxrss_bytes": 1, "rss_anon_peak_bytes": 0,
                 "rss_file_peak_bytes": 0, "user_s": 0, "sys_s": 0, "metrics": {"x_s": w}}
                for w in (3.0, 1.0, 2.0)]
        s = summarize(runs)
        self.assertEqual((s["wall_median_s"], s["wall_min_s"], s["wall_max_s"]), (2.0, 1.0, 3.0))
        self.assertEqual(s["metrics"]["x_s"], 2.0)


class Data(unittest.TestCase):
    def test_generation_is_deterministic_and_cached(self):
        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            a = DataGen(Path(d1), lambda m: None).get("array_f64", nbytes=1 << 16, seed=1)
            b = DataGen(Path(d2), lambda m: None).get("array_f64", nbytes=1 << 16, seed=1)
            self.assertEqual(a.meta["data_sha1"], b.meta["data_sha1"])
            self.assertEqual(npy_data_sha1(a.path), a.meta["data_sha1"])
            mtime = a.path.stat().st_mtime_ns
            again = DataGen(Path(d1), lambda m: None).get("array_f64", nbytes=1 << 16, seed=1)
            self.assertEqual(again.path.stat().st_mtime_ns, mtime)

    def test_dataset_reads_back_as_its_reference(self):
        with tempfile.TemporaryDirectory() as d:
            ds = DataGen(Path(d), lambda m: None).get("dataset6", rows=5000, seed=3)
            back = read_dataset(ds.path)
            self.assertEqual(back["rows"], ds.meta["rows"])
            self.assertEqual(back["category_counts"], ds.meta["category_counts"])
            for k, v in ds.meta["sums"].items():
                self.assertAlmostEqual(back["sums"][k], v, delta=abs(v) * 1e-12)
            manifest = json.loads((ds.path / "manifest.json").read_text())
            self.assertEqual(len(manifest["columns"]), 6)

    def test_dataset_without_manifest_compares_category_sizes(self):
        import numpy as np

        with tempfile.TemporaryDirectory() as d:
            ds = DataGen(Path(d), lambda m: None).get("dataset6", rows=5000, seed=3)
            bare = Path(d) / "bare"
            bare.mkdir()
            for f in ds.path.glob("*.npy"):
                arr = np.load(f)
                if f.stem == "region":  # other codes, as a peer might number them
                    arr = (11 - arr).astype(np.uint32)
                np.save(bare / f.name, arr)
            back = read_dataset(bare, categorical=("region",))
            self.assertEqual(back["rows"], 5000)
            self.assertEqual(back["category_counts"], {})
            self.assertEqual(back["category_sizes"]["region"],
                             sorted(ds.meta["category_counts"]["region"].values()))
            self.assertEqual(back["sums"]["bytes"], ds.meta["sums"]["bytes"])
            self.assertNotIn("region", back["sums"])


if __name__ == "__main__":
    unittest.main()


class Criterion(unittest.TestCase):
    def write(self, root, directory, meta, est):
        d = Path(root) / directory / "new"
        d.mkdir(parents=True)
        (d / "benchmark.json").write_text(json.dumps(meta))
        (d / "estimates.json").write_text(json.dumps(est))

    @staticmethod
    def est(point, lo, hi, slope=True):
        e = {"confidence_interval": {"confidence_level": 0.95, "lower_bound": lo,
                                     "upper_bound": hi},
             "point_estimate": point, "standard_error": 1.0}
        out = {"mean": dict(e, point_estimate=point * 2), "median": e}
        if slope:
            out["slope"] = e
        return out

    def test_reads_the_headline_estimate_and_throughput_in_size_order(self):
        with tempfile.TemporaryDirectory() as root:
            for v, ns in (("512MiB", 3000.0), ("64MiB", 2000.0), ("1MiB", 1000.0)):
                self.write(root, f"open_view/{v}", {
                    "group_id": "open_view", "function_id": None, "value_str": v,
                    "throughput": None, "full_id": f"open_view/{v}"},
                    self.est(ns, ns - 10, ns + 10))
            self.write(root, "sum/mmap/256MiB", {
                "group_id": "sum", "function_id": "mmap", "value_str": "256MiB",
                "throughput": {"Bytes": 256 * MiB}, "full_id": "sum/mmap/256MiB"},
                self.est(1e8, 0.9e8, 1.1e8, slope=False))
            rows = criterion.read_results(Path(root))
        self.assertEqual([r["id"] for r in rows],
                         ["open_view/1MiB", "open_view/64MiB", "open_view/512MiB",
                          "sum/mmap/256MiB"])
        self.assertEqual(rows[0]["estimator"], "slope")
        self.assertAlmostEqual(rows[0]["estimate_s"], 1e-6)
        self.assertAlmostEqual(rows[0]["upper_s"], 1.01e-6)
        # Without a slope the mean is the headline (here twice the median, to tell them apart).
        self.assertEqual(rows[3]["estimator"], "mean")
        self.assertAlmostEqual(rows[3]["estimate_s"], 0.2)
        self.assertAlmostEqual(rows[3]["bytes_per_s"], 256 * MiB / 0.2)
        self.assertEqual(criterion.size_of("64MiB"), 64 * MiB)
        self.assertIsNone(criterion.size_of("64MiB-1%"))
