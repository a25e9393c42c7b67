//! `larder sort`: a dataset's rows in order, or the first K of them, as a new dataset.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use larder::ops::sort::{SortKey, SortOptions};

use crate::parse_size;

#[derive(clap::Args)]
pub(crate) struct SortArgs {
    /// The dataset directory (with manifest.json).
    dataset: PathBuf,
    /// The new dataset directory; it appears only once complete.
    out: PathBuf,
    /// Columns to sort by, comma-separated; a leading `-` sorts one descending (`ts,-latency`).
    /// Missing values and NaN come last, equal keys keep their order (pandas' stable sort).
    #[arg(long, visible_alias = "order-by", value_name = "COLS", allow_hyphen_values = true)]
    by: String,
    /// Only the first K rows of the order (top-k): a heap of K rows, and the zones whose first
    /// key cannot beat the K-th are not read.
    #[arg(long, value_name = "K")]
    limit: Option<u64>,
    /// Memory for the sort keys held at once before a sorted run goes to disk (e.g. 256M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,
}

pub(crate) fn sort(args: &SortArgs, out: &mut impl Write) -> Result<()> {
    let mut options = SortOptions::new(SortKey::parse_list(&args.by)?);
    options.limit(args.limit);
    if let Some(m) = args.memory {
        options.memory(usize::try_from(m).unwrap_or(usize::MAX));
    }
    let report = options.sort(&args.dataset, &args.out).with_context(|| {
        format!("sorting {} into {}", args.dataset.display(), args.out.display())
    })?;
    write!(out, "{}: {} rows", args.out.display(), report.rows)?;
    if report.runs > 0 {
        write!(out, ", merged from {} sorted runs", report.runs)?;
    }
    if report.via_index {
        write!(out, ", in the order of the sorted index of {:?}", args.by.trim_start_matches('-'))?;
    } else if args.limit.is_some() {
        write!(out, ", {} zones skipped", report.zones_skipped)?;
    }
    writeln!(out)?;
    Ok(())
}
