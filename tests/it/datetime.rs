//! Datetime columns: time buckets in group-by, statistics printed in ISO 8601, formatted
//! timestamps in convert, and datetimes copied to Zarr and HDF5.

// Short names for times, rows and strings keep the arithmetic readable.
#![allow(clippy::many_single_char_names)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use larder::compute::{self, Agg, Every, GroupKey, Number};

use crate::support::{larder, python, run_interop};

/// A CSV of `rows` request-log lines: `ts` (ISO, seconds, from 2024-01-01T00:00:00Z, some
/// missing), `ms` (an integer), and the truth per row (seconds since the epoch, ms).
fn log_csv(dir: &Path, rows: usize) -> (PathBuf, Vec<(Option<i64>, i64)>) {
    let start = 1_704_067_200; // 2024-01-01T00:00:00Z
    let mut s = String::from("ts,ms\n");
    let mut truth = Vec::new();
    let mut x: u64 = 7;
    for i in 0..rows {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let r = (x >> 20) as i64;
        // Over about 30 hours, with a gap of empty hours in the middle.
        let mut t = start + r.rem_euclid(30 * 3600);
        if (10 * 3600..14 * 3600).contains(&(t - start)) {
            t += 4 * 3600;
        }
        let ms = r.rem_euclid(1000);
        let ts = (i % 17 != 5).then_some(t);
        match ts {
            Some(t) => {
                let d = larder::dtype::format_datetime(t, larder::dtype::TimeUnit::S);
                writeln!(s, "{d}Z,{ms}").unwrap();
            }
            None => writeln!(s, "NA,{ms}").unwrap(),
        }
        truth.push((ts, ms));
    }
    let csv = dir.join("log.csv");
    std::fs::write(&csv, s).unwrap();
    (csv, truth)
}

fn convert(csv: &Path, out: &Path) {
    larder::convert::ConvertOptions::new().convert(csv, out, &mut |_| {}).unwrap();
}

fn aggs(list: &[&str]) -> Vec<Agg> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

#[test]
fn groupby_every_hour_matches_a_naive_floor_and_skips_missing_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, truth) = log_csv(dir.path(), 20_000);
    let out = dir.path().join("log");
    convert(&csv, &out);
    let every: Every = "1h".parse().unwrap();
    let g = compute::groupby_every(
        &out,
        "ts",
        every,
        &aggs(&["count", "sum:ms", "mean:ms", "min:ts", "max:ts", "mean:ts"]),
    )
    .unwrap();
    let mut want = std::collections::BTreeMap::<i64, Vec<(i64, i64)>>::new();
    for &(t, ms) in &truth {
        if let Some(t) = t {
            want.entry(t.div_euclid(3600) * 3600).or_default().push((t, ms));
        }
    }
    // The gap's hours have no rows, so no group.
    assert_eq!(g.keys.len(), want.len());
    assert!(want.len() < 30);
    for (i, (start, rows)) in want.iter().enumerate() {
        assert_eq!(g.keys[i], GroupKey::DateTime(*start, larder::dtype::TimeUnit::S));
        let col = |name: &str| g.columns.iter().find(|c| c.0 == name).unwrap().1[i];
        assert_eq!(col("count"), Number::Int(rows.len() as i128));
        assert_eq!(col("sum:ms"), Number::Int(rows.iter().map(|r| i128::from(r.1)).sum()));
        let tmin = rows.iter().map(|r| r.0).min().unwrap();
        let tmax = rows.iter().map(|r| r.0).max().unwrap();
        let tsum: i128 = rows.iter().map(|r| i128::from(r.0)).sum();
        assert_eq!(col("min:ts"), Number::DateTime(tmin, larder::dtype::TimeUnit::S));
        assert_eq!(col("max:ts"), Number::DateTime(tmax, larder::dtype::TimeUnit::S));
        let mean = i64::try_from(tsum / rows.len() as i128).unwrap();
        assert_eq!(col("mean:ts"), Number::DateTime(mean, larder::dtype::TimeUnit::S));
    }
    // The same whatever the number of threads.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let one = pool.install(|| {
        compute::groupby_every(
            &out,
            "ts",
            every,
            &aggs(&["count", "sum:ms", "mean:ms", "min:ts", "max:ts", "mean:ts"]),
        )
        .unwrap()
    });
    assert_eq!(one, g);
    // Without a width: exact values, one second each.
    let exact = compute::groupby(&out, "ts", &aggs(&["count"])).unwrap();
    let distinct: std::collections::BTreeSet<i64> = truth.iter().filter_map(|r| r.0).collect();
    assert_eq!(exact.keys.len(), distinct.len());
}

#[test]
fn groupby_every_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = log_csv(dir.path(), 500);
    let out = dir.path().join("log");
    convert(&csv, &out);
    let count = aggs(&["count"]);
    // Finer than the column's unit.
    let e = compute::groupby_every(&out, "ts", "1ms".parse().unwrap(), &count).unwrap_err();
    assert!(e.to_string().contains("not a whole number of the column's unit (s)"), "{e}");
    // Too many buckets: 24 years of seconds is far past the cap; days are fine.
    let csv = dir.path().join("years.csv");
    std::fs::write(
        &csv,
        "ts
2000-01-01T00:00:00
2024-01-01T00:00:00
",
    )
    .unwrap();
    let years = dir.path().join("years");
    convert(&csv, &years);
    let e = compute::groupby_every(&years, "ts", "1s".parse().unwrap(), &count).unwrap_err();
    assert!(e.to_string().contains("buckets of 1s") && e.to_string().contains("wider"), "{e}");
    let e = compute::groupby(&years, "ts", &count).unwrap_err();
    assert!(e.to_string().contains("buckets of 1s"), "{e}");
    let g = compute::groupby_every(&years, "ts", "1d".parse().unwrap(), &count).unwrap();
    assert_eq!(g.keys.len(), 2);
    // A width is for timestamps only.
    let e = compute::groupby_every(&out, "ms", "1h".parse().unwrap(), &count).unwrap_err();
    assert!(e.to_string().contains("not datetime64"), "{e}");
    // A sum of datetimes means nothing.
    let e =
        compute::groupby_every(&out, "ts", "1h".parse().unwrap(), &aggs(&["sum:ts"])).unwrap_err();
    assert!(e.to_string().contains("sum means nothing"), "{e}");
}

#[test]
fn groupby_by_a_float_column_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("f.csv");
    std::fs::write(&csv, "x,y\n1.5,1\n2.5,2\n").unwrap();
    let out = dir.path().join("f");
    convert(&csv, &out);
    let e = compute::groupby(&out, "x", &aggs(&["count"])).unwrap_err().to_string();
    assert!(e.contains("x.npy") && e.contains("float column"), "{e}");
}

#[test]
fn cli_groupby_every_prints_iso_bucket_starts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "ts,v\n2024-01-01T10:59:59Z,1\n2024-01-01T10:00:00Z,2\n,5\n2024-01-01T12:30:00Z,3\n",
    )
    .unwrap();
    let out = dir.path().join("t");
    convert(&csv, &out);
    let o = larder()
        .args(["groupby", out.to_str().unwrap(), "--by", "ts", "--every", "1h"])
        .args(["--agg", "count,sum:v,max:ts"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ts\tcount\tsum:v\tmax:ts\n\
         \"2024-01-01T10:00:00\"\t2\t3\t\"2024-01-01T10:59:59\"\n\
         \"2024-01-01T12:00:00\"\t1\t3\t\"2024-01-01T12:30:00\"\n"
    );
    let o = larder()
        .args(["groupby", out.to_str().unwrap(), "--by", "ts", "--every", "1week"])
        .args(["--agg", "count"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("bucket width \"1week\""), "{err}");
}

/// `larder groupby --every` and `larder stats` of datetime columns against pandas
/// (`tests/interop/check_datetime.py`).
#[test]
fn datetime_groupby_and_stats_agree_with_pandas() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let larder = env!("CARGO_BIN_EXE_larder");
    run_interop(&py, "check_datetime.py", &[larder.as_ref(), dir.path().as_os_str()]);
}

#[test]
fn stats_of_a_datetime_column_are_times_without_a_sum() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "ts\n2024-01-01T00:00:00Z\nNA\n2024-01-01T00:00:01Z\n2024-01-02T00:00:00Z\n",
    )
    .unwrap();
    let out = dir.path().join("t");
    convert(&csv, &out);
    let ts = out.join("ts.npy");
    let d = compute::StatsOptions::new().describe(&ts).unwrap();
    let compute::Description::DateTimes(s) = &d else { panic!("datetimes expected: {d:?}") };
    assert_eq!((s.count, s.null_count, s.nat_count), (3, Some(1), 0));
    // As pandas' describe(): mean 2024-01-01 08:00:00.
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["mean"], "2024-01-01T08:00:00");
    assert_eq!(
        (v["min"].as_str(), v["max"].as_str()),
        (Some("2024-01-01T00:00:00"), Some("2024-01-02T00:00:00"))
    );
    assert!(v.get("sum").is_none() && v.get("std").is_none() && v.get("var").is_none());
    // The number-only API refuses rather than summing timestamps.
    let e = compute::StatsOptions::new().compute(&ts).unwrap_err().to_string();
    assert!(e.contains("ts.npy") && e.contains("sum means nothing"), "{e}");
    let e = compute::StatsOptions::new().quantiles(&[0.5]).describe(&ts).unwrap_err();
    assert!(e.to_string().contains("quantiles of datetime64"), "{e}");

    let o = larder().args(["stats", ts.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text,
        "dtype      datetime64[s]\ncount      3\nnull_count 1\nnat_count  0\n\
         mean       2024-01-01T08:00:00\nmin        2024-01-01T00:00:00\n\
         max        2024-01-02T00:00:00\n"
    );
    let o = larder().args(["stats", ts.to_str().unwrap(), "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["max"], "2024-01-02T00:00:00");
    let o = larder().args(["stats", ts.to_str().unwrap(), "--axis", "0"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("along an axis"), "{err}");
}

#[test]
fn stats_of_a_numpy_datetime_array_skip_nat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.npy");
    // np.array(['2000-01-01T00:00:00.500', 'NaT', '1999-12-31T23:59:59.000'], 'M8[ms]')
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<M8[ms]', 'fortran_order': False, 'shape': (3,), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in [946_684_800_500i64, i64::MIN, 946_684_799_000] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    let d = compute::StatsOptions::new().describe(&path).unwrap();
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!((v["count"].as_u64(), v["nat_count"].as_u64()), (Some(2), Some(1)));
    assert_eq!(v["min"], "1999-12-31T23:59:59.000");
    assert_eq!(v["mean"], "1999-12-31T23:59:59.750");
    assert_eq!(v["dtype"], "datetime64[ms]");
}

/// A CSV with timestamps in three layouts, missing values, and bad values on known lines.
fn formatted_csv(dir: &Path, rows: usize) -> PathBuf {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut s = String::from("clf,day,compact,n\n");
    for i in 0..rows {
        let (d, m, h) = (1 + i % 28, i % 12, i % 24);
        let clf = match i % 50 {
            7 => "NA".to_string(),
            8 => String::new(),
            13 => "2024-01-01T10:00:00Z".to_string(), // ISO is not this column's format
            _ => format!("{d:02}/{}/2024:{h:02}:{:02}:00 +0{}00", MONTHS[m], i % 60, i % 3),
        };
        let day = if i % 50 == 21 {
            "31/02/2024".to_string()
        } else {
            format!("{d:02}/{:02}/2023", m + 1)
        };
        let compact = if i % 50 == 33 {
            "23000101 000000.000".to_string() // past datetime64[ns]
        } else {
            format!("2024{:02}{d:02} {h:02}0000.{:03}", m + 1, i % 1000)
        };
        writeln!(s, "{clf},{day},{compact},{i}").unwrap();
    }
    let csv = dir.join("formats.csv");
    std::fs::write(&csv, s).unwrap();
    csv
}

fn formatted_opts() -> larder::convert::ConvertOptions {
    use larder::convert::ColumnType;
    use larder::dtype::TimeUnit;
    let mut o = larder::convert::ConvertOptions::new();
    o.column_type("clf", ColumnType::DateTime(TimeUnit::S))
        .datetime_format("clf", "%d/%b/%Y:%H:%M:%S %z")
        .column_type("day", ColumnType::DateTime(TimeUnit::D))
        .datetime_format("day", "%d/%m/%Y")
        .column_type("compact", ColumnType::DateTime(TimeUnit::Ns))
        .datetime_format("compact", "%Y%m%d %H%M%S%.f")
        .block_size(2048)
        .checkpoint_interval(std::time::Duration::ZERO);
    o
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn read_i64(path: &Path) -> Vec<i64> {
    larder::read_npy::<i64>(path).unwrap().iter().copied().collect()
}

#[test]
fn formatted_timestamps_convert_to_utc_and_bad_values_reject_their_record() {
    let dir = tempfile::tempdir().unwrap();
    let csv = formatted_csv(dir.path(), 400);
    let out = dir.path().join("out");
    let r = formatted_opts().convert(&csv, &out, &mut |_| {}).unwrap();
    // Rows 13, 21 and 33 of every 50 are bad: 8 of each.
    assert_eq!((r.manifest.rows, r.manifest.rejected), (376, 24));
    let header = larder::read_header(out.join("clf.npy")).unwrap();
    assert_eq!(header.dtype.typestr(), "<M8[s]");
    assert_eq!(larder::read_header(out.join("day.npy")).unwrap().dtype.typestr(), "<M8[D]");
    let clf = read_i64(&out.join("clf.npy"));
    let day = read_i64(&out.join("day.npy"));
    let compact = read_i64(&out.join("compact.npy"));
    let valid: Vec<bool> =
        larder::read_npy::<bool>(out.join("clf.valid.npy")).unwrap().iter().copied().collect();
    let kept: Vec<usize> = (0..400).filter(|i| ![13, 21, 33].contains(&(i % 50))).collect();
    for (row, &i) in kept.iter().enumerate() {
        let (d, m, h) = ((1 + i % 28) as u32, (i % 12) as u32, (i % 24) as i64);
        let days = days_from_civil(2024, m + 1, d);
        if i % 50 == 7 || i % 50 == 8 {
            assert!(!valid[row], "row {row} (input {i}) is missing");
        } else {
            assert!(valid[row]);
            // Local time minus the offset: UTC.
            let want = days * 86_400 + h * 3600 + (i % 60) as i64 * 60 - (i % 3) as i64 * 3600;
            assert_eq!(clf[row], want, "clf of input row {i}");
        }
        assert_eq!(day[row], days_from_civil(2023, m + 1, d), "day {i}");
        let ns = (days * 86_400 + h * 3600) * 1_000_000_000 + (i % 1000) as i64 * 1_000_000;
        assert_eq!(compact[row], ns, "compact {i}");
    }
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    // Input row i is on line i + 2; the line, column and reason of each bad value.
    for want in [
        r#"15,"clf","does not match the datetime format ""%d/%b/%Y:%H:%M:%S %z""","2024-01-01T10:00:00Z,"#,
        r#"23,"day","does not match the datetime format ""%d/%m/%Y""","#,
        r#"35,"compact","out of range for datetime64[ns]","#,
    ] {
        assert!(rejects.contains(want), "{want}\n{rejects}");
    }
}

#[test]
fn cli_type_takes_a_format_and_a_schema_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "ts,d\n01/Jan/2024:10:00:00 +0100,31/12/2024\n").unwrap();
    let out = dir.path().join("cli");
    let o = larder()
        .args(["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"])
        .args(["--type", "ts=datetime64[s]:%d/%b/%Y:%H:%M:%S %z"])
        .args(["--type", "d=datetime64[D]:%d/%m/%Y"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = larder().args(["cat", out.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("2024-01-01T09:00:00") && text.contains("2024-12-31"), "{text}");

    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"ts": "datetime64[s]:%d/%b/%Y:%H:%M:%S %z", "d": "datetime64[D]:%d/%m/%Y"}"#,
    )
    .unwrap();
    let out2 = dir.path().join("schema");
    let o = larder()
        .args(["convert", csv.to_str().unwrap(), out2.to_str().unwrap(), "-q", "--schema"])
        .arg(&schema)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_i64(&out2.join("ts.npy")), read_i64(&out.join("ts.npy")));
    assert_eq!(read_i64(&out2.join("d.npy")), read_i64(&out.join("d.npy")));

    // A format on a column that is not a datetime, and a bad format, are refused.
    for (t, why) in [
        ("d=f64:%d/%m/%Y", "column \"d\" has the datetime format \"%d/%m/%Y\" but type f64"),
        ("d=datetime64[D]:%Y-%", "datetime format \"%Y-%\""),
    ] {
        let o = larder()
            .args(["convert", csv.to_str().unwrap(), dir.path().join("bad").to_str().unwrap()])
            .args(["-q", "--type", t])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(why), "{t}: {err}");
    }
}

/// Fails the `n`-th checkpoint, as a crash just before it would be written.
#[derive(Debug)]
struct FailCheckpoint(u64, std::sync::atomic::AtomicU64);

impl larder::convert::FaultPlan for FailCheckpoint {
    fn before(&self, step: larder::convert::Step, _path: &Path) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        if step == larder::convert::Step::Checkpoint
            && self.1.fetch_add(1, Ordering::SeqCst) + 1 == self.0
        {
            return Err(std::io::Error::other("injected failure"));
        }
        Ok(())
    }
}

#[test]
fn formats_survive_a_resume_and_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = formatted_csv(dir.path(), 3000);
    let reference = dir.path().join("ref");
    formatted_opts().convert(&csv, &reference, &mut |_| {}).unwrap();
    let out = dir.path().join("out");
    let fail = std::sync::Arc::new(FailCheckpoint(3, 0.into()));
    let e = formatted_opts().faults(fail).convert(&csv, &out, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    // Another format for a column is another conversion.
    let mut other = formatted_opts();
    other.datetime_format("day", "%m/%d/%Y").resume(true);
    let e = other.convert(&csv, &out, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("other options"), "{e}");
    // The same options continue where the run stopped, with the formats of its plan.
    let r = formatted_opts().resume(true).convert(&csv, &out, &mut |_| {}).unwrap();
    assert!(r.resumed);
    for f in ["clf.npy", "clf.valid.npy", "day.npy", "compact.npy", "n.npy", "rejects.csv"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(reference.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// A `.npy` of `datetime64[unit]` values, written as numpy writes it.
fn write_datetime_npy(path: &Path, unit: &str, values: &[i64]) {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = format!(
        "{{'descr': '<M8[{unit}]', 'fortran_order': False, 'shape': ({},), }}",
        values.len()
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn datetimes_and_durations_copied_to_zarr_and_hdf5_keep_their_type() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("t.npy");
    let values: Vec<i64> = (0..5000).map(|i| 1_704_067_200_000 + i * 3_600_123).collect();
    let mut with_nat = values.clone();
    with_nat[17] = i64::MIN;
    write_datetime_npy(&src, "ms", &with_nat);
    let p = |name: &str| dir.path().join(name);

    // npy -> npy keeps the dtype.
    larder::copy(&src, p("copy.npy")).unwrap();
    assert_eq!(larder::read_header(p("copy.npy")).unwrap().dtype.typestr(), "<M8[ms]");

    // Zarr: the numpy.datetime64 data type, NaT as fill value.
    let opts = larder::CopyOptions::new();
    larder::copy_with(&src, p("t.zarr"), &opts).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("t.zarr/zarr.json")).unwrap()).unwrap();
    assert_eq!(
        meta["data_type"],
        serde_json::json!({"name": "numpy.datetime64", "configuration": {"unit": "ms", "scale_factor": 1}})
    );
    assert_eq!(meta["fill_value"], "NaT");
    larder::copy_with(p("t.zarr"), p("from_zarr.npy"), &opts).unwrap();
    assert_eq!(larder::read_header(p("from_zarr.npy")).unwrap().dtype.typestr(), "<M8[ms]");
    assert_eq!(read_i64(&p("from_zarr.npy")), with_nat);
    let o = larder().args(["info", p("t.zarr").to_str().unwrap(), "--json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("<M8[ms]"), "{o:?}");
    let d = compute::StatsOptions::new().describe(p("t.zarr")).unwrap();
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!((v["count"].as_u64(), v["nat_count"].as_u64()), (Some(4999), Some(1)));
    assert_eq!(v["min"], "2024-01-01T00:00:00.000");

    // Durations too: numpy.timedelta64.
    let td = p("td.npy");
    std::fs::write(&td, std::fs::read(&src).unwrap()).unwrap();
    let mut bytes = std::fs::read(&td).unwrap();
    let at = bytes.windows(3).position(|w| w == b"<M8").unwrap();
    bytes[at + 1] = b'm';
    std::fs::write(&td, bytes).unwrap();
    larder::copy_with(&td, p("td.zarr"), &opts).unwrap();
    larder::copy_with(p("td.zarr"), p("td_back.npy"), &opts).unwrap();
    assert_eq!(larder::read_header(p("td_back.npy")).unwrap().dtype.typestr(), "<m8[ms]");
    assert_eq!(read_i64(&p("td_back.npy")), with_nat);

    // HDF5: int64 with CF attributes, read back as datetimes.
    if cfg!(feature = "hdf5") {
        larder::copy_with(&src, p("t.h5"), &opts).unwrap();
        let o = larder().args(["info", p("t.h5").to_str().unwrap(), "--json"]).output().unwrap();
        assert!(String::from_utf8_lossy(&o.stdout).contains("<M8[ms]"), "{o:?}");
        larder::copy_with(p("t.h5"), p("from_h5.npy"), &opts).unwrap();
        assert_eq!(larder::read_header(p("from_h5.npy")).unwrap().dtype.typestr(), "<M8[ms]");
        assert_eq!(read_i64(&p("from_h5.npy")), with_nat);
        // HDF5 to Zarr: still a datetime, and the CF attributes are not copied as user ones.
        larder::copy_with(p("t.h5"), p("h5.zarr"), &opts).unwrap();
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p("h5.zarr/zarr.json")).unwrap()).unwrap();
        assert_eq!(meta["data_type"]["name"], "numpy.datetime64");
        assert!(meta.get("attributes").is_none_or(|a| a.get("units").is_none()), "{meta}");
        larder::copy_with(&td, p("td.h5"), &opts).unwrap();
        larder::copy_with(p("td.h5"), p("td_from_h5.npy"), &opts).unwrap();
        assert_eq!(larder::read_header(p("td_from_h5.npy")).unwrap().dtype.typestr(), "<m8[ms]");
    }
}

/// zarr-python and h5py read what larder copies as datetimes, and larder reads zarr-python's
/// (`tests/interop/check_datetime_copy.py`).
#[test]
fn zarr_python_and_h5py_read_copied_datetimes() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let larder = env!("CARGO_BIN_EXE_larder");
    let hdf5 = if cfg!(feature = "hdf5") { "hdf5" } else { "no-hdf5" };
    let args = [larder.as_ref(), dir.path().as_os_str(), hdf5.as_ref()];
    run_interop(&py, "check_datetime_copy.py", &args);
}

#[test]
fn nat_in_a_datetime_value_or_key_column_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let nat = i64::MIN;
    // Two groups by k; the times of group 0 hold a NaT, which must not be its min.
    write_datetime_npy(&dir.path().join("t.npy"), "s", &[100, nat, 300, 7200, nat]);
    larder::write_npy(dir.path().join("k.npy"), &ndarray::arr1(&[0i64, 0, 0, 1, 1])).unwrap();
    let manifest = serde_json::json!({
        "columns": [
            {"name": "t", "file": "t.npy", "dtype": "<M8[s]"},
            {"name": "k", "file": "k.npy", "dtype": "<i8"},
        ],
        "rows": 5, "rejected": 0, "source": {"path": "x.csv"}
    });
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    let g =
        compute::groupby(dir.path(), "k", &aggs(&["count", "count:t", "min:t", "mean:t"])).unwrap();
    let s = larder::dtype::TimeUnit::S;
    let col = |name: &str| g.columns.iter().find(|c| c.0 == name).unwrap().1.clone();
    assert_eq!(col("count"), [Number::Int(3), Number::Int(2)]);
    assert_eq!(col("count:t"), [Number::Int(2), Number::Int(1)]);
    assert_eq!(col("min:t"), [Number::DateTime(100, s), Number::DateTime(7200, s)]);
    assert_eq!(col("mean:t"), [Number::DateTime(200, s), Number::DateTime(7200, s)]);
    // As a key, NaT belongs to no bucket.
    let g =
        compute::groupby_every(dir.path(), "t", "1h".parse().unwrap(), &aggs(&["count"])).unwrap();
    assert_eq!(g.keys, [GroupKey::DateTime(0, s), GroupKey::DateTime(7200, s)]);
    assert_eq!(g.columns[0].1, [Number::Int(2), Number::Int(1)]);
}

#[test]
fn copies_of_empty_and_zero_d_datetime_arrays_stay_datetimes() {
    let dir = tempfile::tempdir().unwrap();
    let dtype = larder::DType::datetime(larder::dtype::TimeUnit::S);
    for (name, shape, data) in [
        ("empty", vec![0usize, 3], Vec::new()),
        ("scalar", vec![], 86_400i64.to_le_bytes().to_vec()),
    ] {
        let src = dir.path().join(format!("{name}.npy"));
        let mut bytes = larder::npy::Header::new(dtype, &shape, false).to_bytes();
        bytes.extend(data);
        std::fs::write(&src, bytes).unwrap();
        let dst = dir.path().join(format!("{name}-copy.npy"));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_larder"))
            .args(["copy", src.to_str().unwrap(), dst.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap(), "{name}");
    }
}

/// The zone a dataset's manifest records for column `name`, and whether its data says zoned.
fn zone_of(out: &Path, name: &str) -> (Option<String>, bool) {
    let ds = larder::dataset::Dataset::open(out).unwrap();
    let col = ds.column(name).unwrap();
    (col.manifest().zone.clone(), col.manifest().zoned())
}

#[test]
fn iso_text_with_an_offset_anywhere_makes_its_column_zoned() {
    // As pd.to_datetime gives tz-aware times for text with offsets: a column of ISO 8601 text
    // in which a kept value carried `Z` or `±hh:mm` records the zone of its instants (UTC),
    // wherever that value is: in the rows types are inferred from, past them, in a block of
    // its own. Text without offsets stays naive; a format says for itself.
    let dir = tempfile::tempdir().unwrap();
    let rows = 5_000;
    let mut s = String::from("z,late,naive,plus,date,n\n");
    for i in 0..rows {
        let late = if i == rows - 7 { "2024-01-01T10:00:00-0330" } else { "2024-01-01T10:00:00" };
        let plus = if i == 3 { "2024-02-01 10:00:00.5+01" } else { "2024-02-01 10:00:00.5" };
        // `n` holds a bad number on one row, whose `naive` value has an offset: that record
        // is rejected, so its offset does not count.
        let (naive, n) =
            if i == 11 { ("2024-01-01T10:00:00Z", "x") } else { ("2024-01-01 10:00:00", "1") };
        writeln!(
            s,
            "2024-01-01T10:00:{:02}Z,{late},{naive},{plus},2024-01-0{},{n}",
            i % 60,
            1 + i % 9
        )
        .unwrap();
    }
    let src = dir.path().join("tz.csv");
    std::fs::write(&src, s).unwrap();
    let out = dir.path().join("tz");
    let mut o = larder::convert::ConvertOptions::new();
    o.infer_rows(100).block_size(64 << 10).column_type("n", larder::convert::ColumnType::I64);
    let r = o.convert(&src, &out, &mut |_| {}).unwrap();
    assert_eq!(r.manifest.rejected, 1);
    let utc = (Some("UTC".to_string()), true);
    assert_eq!(zone_of(&out, "z"), utc);
    assert_eq!(zone_of(&out, "late"), utc, "an offset past the inferred rows");
    assert_eq!(zone_of(&out, "plus"), utc, "an offset of hours alone, a fraction before it");
    assert_eq!(zone_of(&out, "naive"), (None, false), "the offset was in a rejected record");
    assert_eq!(zone_of(&out, "date"), (None, false));
    // The instants are UTC: `-0330` is 13:30 UTC.
    let late = read_i64(&out.join("late.npy"));
    assert_eq!(late[rows - 7 - 1] - late[0], 3 * 3600 + 30 * 60);
    // Appending text with offsets to a naive column makes it zoned; appending naive text to a
    // zoned one keeps it zoned.
    let more = dir.path().join("more.csv");
    std::fs::write(
        &more,
        "z,late,naive,plus,date,n\n2024-01-01T11:00:00,2024-01-01T10:00:00,2024-01-01T10:00:00+00:00,2024-02-01 10:00:00.5,2024-01-01,2\n",
    )
    .unwrap();
    larder::convert::ConvertOptions::new().append_files(&[more], &out, &mut |_| {}).unwrap();
    assert_eq!(zone_of(&out, "z"), utc);
    assert_eq!(zone_of(&out, "naive"), utc);
    assert_eq!(zone_of(&out, "late"), utc);
    assert_eq!(zone_of(&out, "date"), (None, false));
}
