//! numpy's time types are never read as their 64-bit counts: `timedelta64` arrays are durations
//! (`NaT` missing), and datetimes print as datetimes however they are read.

use std::path::Path;

use larder::compute::{self, Description};

use crate::support::larder;

const NAT: i64 = i64::MIN;

/// A `.npy` of 64-bit values with typestr `descr` (`<m8[s]`, `>M8[D]`, …) and `shape`, written
/// as numpy writes it (big-endian values for a `>` descr).
pub(crate) fn write_time_npy(path: &Path, descr: &str, shape: &[usize], values: &[i64]) {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let dims = shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    // A one-tuple is written `(4,)`.
    let dims = if shape.len() == 1 { format!("{dims},") } else { dims };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        if descr.starts_with('>') {
            bytes.extend_from_slice(&v.to_be_bytes());
        } else {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

fn run(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = larder().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn timedelta_stats_skip_nat_and_count_in_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let td = dir.path().join("td.npy");
    write_time_npy(&td, "<m8[s]", &[4], &[1, 2, NAT, 4]);
    let Description::TimeDeltas(s) = compute::StatsOptions::new().describe(&td).unwrap() else {
        panic!("durations expected")
    };
    // pandas: count 3, mean 0 days 00:00:02 (truncated to the unit), min 1 s, max 4 s.
    assert_eq!((s.count, s.nat_count, s.sum), (3, 1, 7));
    assert_eq!((s.mean, s.min, s.max), (Some(2), Some(1), Some(4)));
    let (ok, out, err) = run(&["stats".as_ref(), td.as_os_str(), "--json".as_ref()]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dtype"], "timedelta64[s]");
    assert_eq!(
        (v["count"].as_u64(), v["sum"].as_i64(), v["min"].as_i64()),
        (Some(3), Some(7), Some(1))
    );
    let (ok, out, _) = run(&["stats".as_ref(), td.as_os_str()]);
    assert!(ok);
    assert!(
        out.contains("sum        7 seconds\n") && out.contains("min        1 seconds\n"),
        "{out}"
    );
    assert!(!out.contains("9223372036854775808"), "{out}");
    // The number statistics refuse durations rather than count NaT as -2^63.
    let e = compute::stats(&td, None, &[]).unwrap_err();
    assert!(e.to_string().contains("timedelta64[s]") && e.to_string().contains("NaT"), "{e}");
}

#[test]
fn timedelta_of_other_units_shapes_and_byte_orders_and_through_zarr() {
    let dir = tempfile::tempdir().unwrap();
    let td = dir.path().join("h.npy");
    // Big-endian hours, 2-d, a negative duration and every value NaT in one row.
    write_time_npy(&td, ">m8[h]", &[2, 3], &[-5, NAT, 9, NAT, NAT, 30]);
    let (ok, out, err) = run(&["stats".as_ref(), td.as_os_str(), "--json".as_ref()]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dtype"], "timedelta64[h]");
    assert_eq!((v["count"].as_u64(), v["nat_count"].as_u64()), (Some(3), Some(3)));
    assert_eq!(
        (v["sum"].as_i64(), v["mean"].as_i64(), v["min"].as_i64()),
        (Some(34), Some(11), Some(-5))
    );
    // As numpy prints it: counts right-aligned, NaT quoted.
    let (ok, out, _) = run(&["cat".as_ref(), td.as_os_str()]);
    assert!(ok);
    assert_eq!(out, "[[   -5 'NaT'     9]\n ['NaT' 'NaT'    30]]\n");
    let (_, out, _) = run(&["cat".as_ref(), td.as_os_str(), "--json".as_ref()]);
    assert_eq!(out, "[[-5,\"NaT\",9],[\"NaT\",\"NaT\",30]]\n");
    // --axis and quantiles would reduce the counts: refused, naming the type.
    let (ok, _, err) = run(&["stats".as_ref(), td.as_os_str(), "--axis".as_ref(), "0".as_ref()]);
    assert!(!ok && err.contains("h.npy") && err.contains("timedelta64[h]"), "{err}");
    let (ok, _, err) =
        run(&["stats".as_ref(), td.as_os_str(), "--quantile".as_ref(), "0.5".as_ref()]);
    assert!(!ok && err.contains("quantiles of timedelta64"), "{err}");
    // The same through a Zarr copy (a chunked store, not a mapped file).
    let z = dir.path().join("h.zarr");
    let (ok, _, err) = run(&["copy".as_ref(), td.as_os_str(), z.as_os_str(), "-q".as_ref()]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["stats".as_ref(), z.as_os_str(), "--json".as_ref()]);
    assert!(ok, "{err}");
    let w: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(w, v);
    let (_, out, _) = run(&["cat".as_ref(), z.as_os_str(), "--json".as_ref()]);
    assert_eq!(out, "[[-5,\"NaT\",9],[\"NaT\",\"NaT\",30]]\n");
}

/// Saves a delta over the time array `base` (a `.npy` of 64-bit values) setting `changes`.
fn delta_over(base: &Path, delta: &Path, changes: &[(usize, i64)]) {
    let mut clone = larder::MmapArray::<i64>::open_cow(base).unwrap();
    let mut view = clone.view_mut().unwrap();
    for &(i, v) in changes {
        // Flat, row-major index.
        if let Some(x) = view.iter_mut().nth(i) {
            *x = v;
        }
    }
    drop(view);
    clone.save_delta(delta).unwrap();
}

#[test]
fn cat_through_a_delta_prints_datetimes_as_datetimes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("dt.npy");
    write_time_npy(&base, "<M8[D]", &[10], &(0..10).collect::<Vec<_>>());
    let delta = dir.path().join("dt.delta");
    delta_over(&base, &delta, &[(3, NAT), (4, 19_782)]);
    let cat = |extra: &[&str]| {
        let mut args =
            vec!["cat".as_ref(), base.as_os_str(), "--delta".as_ref(), delta.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let (ok, out, err) = run(&args);
        assert!(ok, "{err}");
        out
    };
    // As numpy prints np.load('dt.npy') with the same changes.
    assert_eq!(
        cat(&[]),
        "['1970-01-01' '1970-01-02' '1970-01-03'        'NaT' '2024-02-29' '1970-01-06'\n \
         '1970-01-07' '1970-01-08' '1970-01-09' '1970-01-10']\n"
            .replace("\n ", " ")
    );
    assert_eq!(cat(&["--slice", "3:5", "--json"]), "[\"NaT\",\"2024-02-29\"]\n");
    // The same as the materialized copy prints.
    let copy = dir.path().join("o.npy");
    let o = larder()
        .args(["copy".as_ref(), base.as_os_str(), "--delta".as_ref(), delta.as_os_str()])
        .arg(&copy)
        .arg("-q")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, direct, _) = run(&["cat".as_ref(), copy.as_os_str(), "--json".as_ref()]);
    assert_eq!(cat(&["--json"]), direct);
}

#[test]
fn cat_through_a_delta_keeps_2d_datetimes_of_another_unit_and_durations() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("s.npy");
    write_time_npy(&base, "<M8[s]", &[2, 2], &[0, 86_400, 1_709_164_800, -1]);
    let delta = dir.path().join("s.delta");
    delta_over(&base, &delta, &[(1, NAT)]);
    let (ok, out, err) =
        run(&["cat".as_ref(), base.as_os_str(), "--delta".as_ref(), delta.as_os_str()]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "[['1970-01-01T00:00:00'                 'NaT']\n \
         ['2024-02-29T00:00:00' '1969-12-31T23:59:59']]\n"
    );
    let td = dir.path().join("h.npy");
    write_time_npy(&td, "<m8[h]", &[3], &[5, 6, 7]);
    let tdd = dir.path().join("h.delta");
    delta_over(&td, &tdd, &[(0, NAT), (2, -40)]);
    let (ok, out, err) =
        run(&["cat".as_ref(), td.as_os_str(), "--delta".as_ref(), tdd.as_os_str()]);
    assert!(ok, "{err}");
    assert_eq!(out, "['NaT'     6   -40]\n");
}

/// A delta over `base` whose last data page (the array's highest changed page) is damaged.
fn damaged_delta(base: &Path, delta: &Path, changes: &[(usize, i64)]) {
    delta_over(base, delta, changes);
    let mut bytes = std::fs::read(delta).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(delta, bytes).unwrap();
}

#[test]
fn a_read_through_a_delta_checks_only_the_pages_it_touches() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("t.npy");
    let n = 100_000;
    write_time_npy(&base, "<m8[s]", &[n], &(0..n as i64).collect::<Vec<_>>());
    let delta = dir.path().join("t.delta");
    // Pages 0 and the one holding element 90 000 change; the second one is then damaged.
    damaged_delta(&base, &delta, &[(5, -5), (90_001, 7)]);
    let cat = |sel: &str| {
        let o = larder()
            .args(["cat".as_ref(), base.as_os_str(), "--delta".as_ref(), delta.as_os_str()])
            .args(["--slice", sel])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Untouched by the damage: the changed page 0, and base pages.
    assert_eq!(cat("5"), (Some(0), "-5\n".to_string(), String::new()));
    assert_eq!(cat("50000:50003"), (Some(0), "[50000 50001 50002]\n".to_string(), String::new()));
    // The damaged page fails, naming the delta and the page.
    let (code, _, err) = cat("90001");
    assert_eq!(code, Some(1));
    assert!(err.contains("t.delta") && err.contains("checksum mismatch"), "{err}");
}

#[test]
fn a_2d_read_through_a_delta_skips_a_damaged_page_it_does_not_touch() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("d.npy");
    // 2-d datetimes: row 0 and a row far down change; that far page is damaged.
    let (rows, cols) = (4000, 25);
    write_time_npy(&base, "<M8[s]", &[rows, cols], &vec![86_400; rows * cols]);
    let delta = dir.path().join("d.delta");
    damaged_delta(&base, &delta, &[(1, 0), (3900 * cols, 0)]);
    let o = larder()
        .args(["cat".as_ref(), base.as_os_str(), "--delta".as_ref(), delta.as_os_str()])
        .args(["--slice", "0,:3", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[\"1970-01-02T00:00:00\",\"1970-01-01T00:00:00\",\"1970-01-02T00:00:00\"]\n"
    );
    let o = larder()
        .args(["cat".as_ref(), base.as_os_str(), "--delta".as_ref(), delta.as_os_str()])
        .args(["--slice", "3900,0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("d.delta"));
}
