//! A walk through a converted dataset: convert a CSV, then for every column say what it holds
//! and summarise it — numbers with their missing values skipped; categories, datetimes and text
//! through their typed views (labels whatever the code width, `jiff` timestamps, `&str`), each
//! row `Some` or `None` — and group one column by another.
//!
//! ```text
//! cargo run --example dataset_walk               # a generated CSV of 100 000 rows
//! cargo run --example dataset_walk -- data.csv   # your own
//! ```

// The example builds values from counters and checks exact values on purpose.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp
)]

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use larder::compute::{self, Agg, StatsOptions};
use larder::convert::ConvertOptions;
use larder::dataset::{ColumnData, ColumnKind, Dataset};

/// A CSV of `rows` rows: a timestamp, a region (categorical), a latency with gaps, a status.
fn sample_csv(rows: usize) -> String {
    let regions = ["eu-west", "us-east", "ap-south", "sa-east"];
    let mut csv = String::from("ts,region,latency,status\n");
    for i in 0..rows {
        let latency = if i % 50 == 7 {
            String::new()
        } else {
            format!("{:.1}", (i * 37 % 1000) as f64 / 10.0)
        };
        let _ = writeln!(
            csv,
            "2024-03-{:02}T{:02}:{:02}:00,{},{latency},{}",
            1 + i / 4000 % 28,
            i / 60 % 24,
            i % 60,
            regions[i * 7 % 4],
            if i % 13 == 0 { "error" } else { "ok" }
        );
    }
    csv
}

/// A categorical, datetime or text column through its typed view: every row is `Some(value)` or
/// `None` (missing), whatever the storage (code width, validity file, offsets).
fn walk_typed(dataset: &Path, data: &ColumnData) -> Result<(), Box<dyn Error>> {
    let name = data.name();
    match data {
        ColumnData::Categorical(c) => {
            let mut counts = BTreeMap::<&str, usize>::new();
            for label in c.labels()?.flatten() {
                *counts.entry(label).or_default() += 1;
            }
            let parts: Vec<String> = counts.iter().map(|(l, n)| format!("{l}={n}")).collect();
            println!(
                "{name}: categorical, {} labels, {} missing: {}",
                c.categories().len(),
                data.null_count()?,
                parts.join(", ")
            );
            // The same counts as larder's out-of-core group-by gives them.
            let by = compute::groupby(dataset, name, &["count".parse::<Agg>()?])?;
            for (key, n) in by.keys.iter().zip(&by.columns[0].1) {
                assert_eq!(n.to_string(), counts[key.to_string().as_str()].to_string());
            }
        }
        ColumnData::DateTime(t) => {
            let (mut first, mut last) = (None, None);
            for ts in t.iter()? {
                let Some(ts) = ts? else { continue };
                first = Some(first.map_or(ts, |f: jiff::Timestamp| f.min(ts)));
                last = Some(last.map_or(ts, |l: jiff::Timestamp| l.max(ts)));
            }
            let show = |t: Option<jiff::Timestamp>| t.map_or("-".into(), |t| t.to_string());
            println!(
                "{name}: datetime64[{}], from {} to {}",
                t.unit().as_str(),
                show(first),
                show(last)
            );
        }
        ColumnData::String(s) => {
            let mut longest = "";
            for v in s.iter()? {
                if let Some(v) = v?
                    && v.len() > longest.len()
                {
                    longest = v;
                }
            }
            println!("{name}: text, {} missing, longest {longest:?}", data.null_count()?);
        }
        _ => {}
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let csv = if let Some(p) = std::env::args().nth(1) {
        std::path::PathBuf::from(p)
    } else {
        let p = dir.path().join("sample.csv");
        std::fs::write(&p, sample_csv(100_000))?;
        p
    };
    let out = dir.path().join("dataset");
    let report = ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
    println!(
        "{}: {} rows, {} rejected",
        csv.display(),
        report.manifest.rows,
        report.manifest.rejected
    );

    let ds = Dataset::open(&out)?;
    let rows = usize::try_from(ds.rows())?;
    for column in ds.columns() {
        let name = column.name();
        match column.kind() {
            ColumnKind::Number | ColumnKind::Bool => {
                let s = StatsOptions::new().quantiles(&[0.5]).compute_rows(&column, 0..rows)?;
                let m = &s.summary;
                println!(
                    "{name}: {} ({}), count {} missing {} NaN {} mean {} median {} min {} max {}",
                    column.kind().as_str(),
                    m.dtype,
                    m.count,
                    m.null_count.unwrap_or(0),
                    m.nan_count,
                    m.mean,
                    s.quantiles[0].value,
                    m.min.map_or("-".into(), |v| v.to_string()),
                    m.max.map_or("-".into(), |v| v.to_string()),
                );
            }
            ColumnKind::Categorical | ColumnKind::DateTime | ColumnKind::String => {
                walk_typed(&out, &column.data()?)?;
            }
        }
    }

    // With the generated sample, what pandas says of it.
    if std::env::args().nth(1).is_none() {
        assert_eq!(ds.rows(), 100_000);
        let latency = StatsOptions::new().compute_rows(&ds.column("latency")?, 0..rows)?.summary;
        assert_eq!((latency.count, latency.nan_count), (98_000, 2_000)); // df.latency.count()
        let head = StatsOptions::new().compute_rows(&ds.column("latency")?, 0..10)?.summary;
        // df.latency.iloc[:10].mean(): nine values (row 7 is empty) summing to 140.6.
        assert!((f64::from(head.mean) - 140.6 / 9.0).abs() < 1e-12, "{}", head.mean);
    }

    // Mean latency per region, as pandas' df.groupby("region").latency.mean().
    if ds.column("region").is_ok() && ds.column("latency").is_ok() {
        let g = compute::groupby(&out, "region", &["mean:latency".parse::<Agg>()?])?;
        for (key, mean) in g.keys.iter().zip(&g.columns[0].1) {
            println!("mean latency in {key}: {mean}");
        }
    }
    Ok(())
}
