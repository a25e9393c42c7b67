//! A walk through a converted dataset: a CSV log of 200,000 rows and one bad row (`ts, region,
//! status, message, latency, ok`) converted once, then read through its typed columns —
//! categorical labels whatever the code width, nullable integers as `Option`, strings as `&str`,
//! datetimes as `jiff` timestamps — and grouped per region and per day, each group-by checked
//! against the same figures counted from the typed columns.
//!
//! ```text
//! cargo run --release --example dataset_walk
//! ```

// The example builds values from counters and checks exact values on purpose.
#![allow(clippy::cast_precision_loss, clippy::float_cmp)]

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::time::Instant;

use larder::compute::{self, Agg};
use larder::dataset::{CategoricalColumn, DateTimeColumn, Nullable, Numbers, StringColumn};
use larder::{ConvertOptions, Dataset};

fn main() -> Result<(), Box<dyn Error>> {
    // The log: every 97th region, 89th status and 50th latency missing; one row with a field too
    // many.
    let regions = ["eu-west", "us-east", "ap-south", "sa-east"];
    let mut csv = String::from("ts,region,status,message,latency,ok\n");
    for i in 0..200_000 {
        let region = if i % 97 == 0 { "" } else { regions[i * 7 % 4] };
        let status = if i % 89 == 0 { String::new() } else { (200 + i % 3 * 100).to_string() };
        let latency = if i % 50 == 0 { String::new() } else { format!("{}.5", i % 1000) };
        let (day, sec) = (1 + i / 8000, i % 8000 * 10);
        let ts = format!("2024-03-{day:02}T{:02}:{:02}:{:02}", sec / 3600, sec / 60 % 60, sec % 60);
        writeln!(csv, "{ts},{region},{status},\"req {i}, ok\",{latency},{}", i % 3 == 0)?;
    }
    csv.push_str("2024-03-01T00:00:00,eu-west,200,late,1.5,true,7\n");
    let dir = tempfile::tempdir()?;
    let (input, out) = (dir.path().join("log.csv"), dir.path().join("log"));
    std::fs::write(&input, csv)?;

    let t = Instant::now();
    let report = ConvertOptions::new().convert(&input, &out, &mut |_| {})?;
    let (rows, rejected) = (report.manifest.rows, report.manifest.rejected);
    println!("converted in {:?}: {rows} rows, {rejected} rejected", t.elapsed());
    print!("{}", std::fs::read_to_string(out.join("rejects.csv"))?);
    assert_eq!((rows, rejected), (200_000, 1));

    // Typed columns: `None` wherever a value is missing, whatever the storage.
    let ds = Dataset::open(&out)?;
    let region: CategoricalColumn = ds.column_data("region")?.try_into()?;
    let status: Nullable<i64> = ds.column_data("status")?.try_into()?;
    let latency: Numbers = ds.column_data("latency")?.try_into()?;
    let message: StringColumn = ds.column_data("message")?.try_into()?;
    let ts: DateTimeColumn = ds.column_data("ts")?.try_into()?;

    // Per region: rows, the sum of status and the mean latency, from the typed columns.
    let mut per_region = BTreeMap::<&str, (u64, i64, f64, u64)>::new();
    let rows = region.labels()?.zip(status.iter()?).zip(latency.iter_f64()?);
    for ((label, status), latency) in rows {
        let Some(label) = label else { continue };
        let e = per_region.entry(label).or_default();
        e.0 += 1;
        e.1 += status.unwrap_or(0);
        if let Some(l) = latency.filter(|l| !l.is_nan()) {
            (e.2, e.3) = (e.2 + l, e.3 + 1);
        }
    }
    let missing = region.labels()?.filter(Option::is_none).count();
    println!("region: {} labels, {missing} missing", region.categories().len());
    println!(
        "status: {} missing, {} present",
        status.null_count()?,
        status.iter()?.flatten().count()
    );
    let mut longest = "";
    for m in message.iter()? {
        longest = m?.filter(|m| m.len() > longest.len()).unwrap_or(longest);
    }
    println!("message: longest {longest:?}");

    // The same through larder's group-by, as pandas' df.groupby("region").agg(...).
    let aggs = [Agg::count(), Agg::sum("status"), Agg::mean("latency")];
    let g = compute::groupby(&out, "region", &aggs)?;
    for (i, key) in g.keys.iter().enumerate() {
        let [n, sum, mean] = [0, 1, 2].map(|c| g.columns[c].1[i]);
        println!("{key}: count {n} sum(status) {sum} mean(latency) {mean}");
        let (rn, rsum, lsum, ln) = per_region[key.to_string().as_str()];
        assert_eq!((n.as_f64(), sum.as_f64()), (rn as f64, rsum as f64));
        assert!((mean.as_f64() - lsum / ln as f64).abs() < 1e-9);
    }

    // Per day: the timestamps as jiff's, against the 1-day buckets of the group-by.
    let mut per_day = BTreeMap::<String, u64>::new();
    for t in ts.iter()? {
        let t = t?.ok_or("no missing timestamps here")?;
        *per_day.entry(t.strftime("%Y-%m-%d").to_string()).or_default() += 1;
    }
    let days = compute::groupby_every(&out, "ts", "1d".parse()?, &aggs[..1])?;
    println!("{} days, first {} with {} rows", days.keys.len(), days.keys[0], days.columns[0].1[0]);
    for (key, n) in days.keys.iter().zip(&days.columns[0].1) {
        assert_eq!(n.as_f64(), per_day[&key.to_string()[..10]] as f64, "{key}");
    }
    assert_eq!(days.keys.len(), per_day.len());
    Ok(())
}
