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
