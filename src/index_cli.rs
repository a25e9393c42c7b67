//! `larder index`: builds a dataset's zone maps, or explains what they prune for a filter.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(clap::Args)]
pub(crate) struct IndexArgs {
    /// The dataset directory (with manifest.json).
    dataset: PathBuf,
    /// Build nothing: print the zones a filter keeps and skips, and the pages of each column
    /// it names that a scan of the kept rows touches.
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    explain: Option<String>,
    /// Build a sorted index of this column instead of zone maps (repeatable, or
    /// comma-separated): its row numbers in order and its sorted values, as .npy files, for
    /// point and range lookups and `sort --by` the column.
    #[arg(long, value_name = "COL", value_delimiter = ',', conflicts_with = "explain")]
    sorted: Vec<String>,
    /// Remove the sorted index of this column (repeatable, or comma-separated).
    #[arg(long = "drop", value_name = "COL", value_delimiter = ',',
          conflicts_with_all = ["explain", "sorted"])]
    drop: Vec<String>,
    /// Memory for the sort keys of --sorted held at once before a sorted run goes to disk.
    #[arg(long, value_name = "SIZE", value_parser = crate::parse_size, requires = "sorted")]
    memory: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn index(args: &IndexArgs, out: &mut impl Write) -> Result<()> {
    let path = &args.dataset;
    if let Some(text) = &args.explain {
        let expr = larder::expr::parse(text)?;
        let ds = larder::Dataset::open(path)?;
        let maps = larder::zones::ZoneMaps::open(&ds)?;
        for name in expr.columns() {
            ds.column(name)?;
        }
        let e = maps.explain(&expr);
        if args.json {
            let columns: Vec<_> = e
                .columns
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name, "pages_touched": c.pages_touched, "pages": c.pages,
                        "ignored": c.ignored,
                    })
                })
                .collect();
            let ranges: Vec<[u64; 2]> = e.ranges.iter().map(|r| [r.start, r.end]).collect();
            let v = serde_json::json!({
                "zones": e.zones, "kept": e.kept, "skipped": e.zones - e.kept,
                "rows": e.rows, "rows_kept": e.rows_kept, "ranges": ranges, "columns": columns,
            });
            writeln!(out, "{v}")?;
        } else {
            write!(out, "{e}")?;
        }
        return Ok(());
    }
    if !args.sorted.is_empty() || !args.drop.is_empty() {
        return sorted(args, out);
    }
    let report = larder::zones::build(path)
        .with_context(|| format!("building the zone maps of {}", path.display()))?;
    if args.json {
        let skipped: Vec<_> = report.skipped.iter().map(|(n, why)| [n, why]).collect();
        let v = serde_json::json!({
            "columns": report.columns, "zones": report.zones, "bytes": report.bytes, "skipped": skipped,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "{}: zone maps of {} columns, {} zones each, {} bytes",
            path.display(),
            report.columns,
            report.zones,
            report.bytes
        )?;
        for (name, why) in &report.skipped {
            writeln!(out, "  {name}: none ({why})")?;
        }
    }
    Ok(())
}

/// `--sorted` and `--drop`.
fn sorted(args: &IndexArgs, out: &mut impl Write) -> Result<()> {
    use larder::ops::sort::{DEFAULT_MEMORY, build_sorted_index, drop_sorted_index};
    let path = &args.dataset;
    let memory = args.memory.map_or(DEFAULT_MEMORY, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let mut built = Vec::new();
    for name in &args.sorted {
        let r = build_sorted_index(path, name, memory).with_context(|| {
            format!("building the sorted index of {name:?} in {}", path.display())
        })?;
        if !args.json {
            writeln!(
                out,
                "{}: sorted index of {name:?}, {} rows ({} missing or NaN, last), {} bytes",
                path.display(),
                r.rows,
                r.rows - r.values,
                r.bytes
            )?;
        }
        built.push(serde_json::json!({
            "column": r.column, "rows": r.rows, "values": r.values, "runs": r.runs,
            "bytes": r.bytes,
        }));
    }
    let mut dropped = Vec::new();
    for name in &args.drop {
        let had = drop_sorted_index(path, name).with_context(|| {
            format!("dropping the sorted index of {name:?} in {}", path.display())
        })?;
        if !args.json {
            let what = if had { "dropped" } else { "had none" };
            writeln!(out, "{}: sorted index of {name:?} {what}", path.display())?;
        }
        dropped.push(serde_json::json!({"column": name, "dropped": had}));
    }
    if args.json {
        writeln!(out, "{}", serde_json::json!({"sorted": built, "dropped": dropped}))?;
    }
    Ok(())
}
