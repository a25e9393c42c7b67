//! A walk through a converted dataset: convert a CSV, then for every column say what it holds
//! and summarise it — numbers with their missing values skipped, categories with their counts,
//! datetimes as ISO 8601 — and group one column by another.
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

use std::error::Error;
use std::fmt::Write as _;

use larder::ArrayRead;
use larder::compute::{self, Agg, StatsOptions};
use larder::convert::ConvertOptions;
use larder::dataset::{ColumnKind, Dataset};
use larder::dtype::Time;

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
            ColumnKind::Categorical => {
                let labels =
                    column.categories()?.map(|c| c.to_vec()).transpose()?.unwrap_or_default();
                let counts = compute::groupby(&out, name, &["count".parse::<Agg>()?])?;
                let mut parts = Vec::new();
                for (key, n) in counts.keys.iter().zip(&counts.columns[0].1) {
                    parts.push(format!("{key}={n}"));
                }
                println!("{name}: categorical, {} labels: {}", labels.len(), parts.join(", "));
            }
            ColumnKind::DateTime => {
                let Some(Time::DateTime(unit)) = column.dtype()?.time() else { continue };
                let values = column.values::<i64>()?;
                let d = compute::datetime_summary(&values.chunk_source()?, unit)?;
                let show = |n: Option<compute::Number>| n.map_or("-".into(), |v| v.to_string());
                println!(
                    "{name}: datetime64[{}], from {} to {}",
                    unit.as_str(),
                    show(d.min),
                    show(d.max)
                );
            }
            ColumnKind::String => {
                println!("{name}: text, {} missing", column.null_count()?);
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
