//! The planner: for a bound filter, which rows to read and how. Three plans, all giving the
//! same rows (the filter is evaluated on every row a plan reads):
//!
//! - **index probe**: a sorted index of a column the filter's top-level `AND` terms bound
//!   (`=`, `<`, `BETWEEN`…) is binary-searched; the row numbers between the two positions
//!   are sorted and only those rows (runs of nearby ones merged) are read;
//! - **pruned scan**: the row ranges the zone maps cannot rule out are read in order;
//! - **full scan**: every row, when the zone maps rule nothing out (or there are none).
//!
//! The choice: a probe is considered when the rows the index finds, at [`PROBE_COST`] rows
//! of a scan each (their numbers are read and sorted, their pages are scattered), cost less
//! than the rows the zone maps keep, and there are at most [`MAX_PROBE_ROWS`] (their numbers
//! are held in memory). It is then taken when the pages it touches in the filter's columns
//! and in the index, at [`RANDOM_PAGE_COST`] each, are fewer than the pages a scan of the
//! kept zones touches. So an unselective filter is scanned, and on data sorted by the
//! column the zone maps' pruned scan reads about as few pages as a probe, in order, and is
//! taken. Between the scans: pruned when the zone maps rule out a zone, full otherwise.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::dataset::Dataset;
use crate::error::Result;
use crate::expr::Expr;
use crate::zones::{SortedIndex, ZoneMaps};

/// A row found through an index costs this many rows of a scan.
pub const PROBE_COST: u64 = 8;

/// The most rows an index probe reads (their numbers are held in memory, 8 bytes each).
pub const MAX_PROBE_ROWS: u64 = 1 << 22;

/// A page of a column read through an index (scattered) costs this many pages of a scan
/// (read in order, ahead).
pub const RANDOM_PAGE_COST: u64 = 4;

/// Rows between two rows found through an index that are read rather than skipped: one
/// range then covers both (the rows between are evaluated and do not match).
const MERGE_GAP: u64 = 32;

/// How a plan reads the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Every row.
    FullScan,
    /// The zones the zone maps keep.
    PrunedScan,
    /// The rows a sorted index finds.
    IndexProbe,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::FullScan => "full scan",
            Access::PrunedScan => "pruned scan",
            Access::IndexProbe => "index probe",
        })
    }
}

/// Which plan a filter uses: the planner's choice (the default), or one forced (tests and
/// measurements; the rows are the same whatever the plan). A forced probe that no sorted
/// index allows falls back to the planner's choice, and [`Plan::reason`] says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlanChoice {
    /// The planner chooses.
    #[default]
    Auto,
    /// Every row.
    FullScan,
    /// The zones the zone maps keep.
    PrunedScan,
    /// Through a sorted index, where one applies.
    IndexProbe,
}

/// One column the filter reads, in a [`Plan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanColumn {
    /// The column.
    pub name: String,
    /// Pages of its file the plan reads.
    pub pages_touched: u64,
    /// Pages holding all its rows.
    pub pages: u64,
    /// Why its zone maps are not used, if they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_maps_ignored: Option<String>,
}

/// The sorted index a plan probes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanIndex {
    /// The column indexed.
    pub column: String,
    /// Positions of its order that may match.
    pub positions: [u64; 2],
    /// Pages of its row-number file read.
    pub pages_touched: u64,
}

/// The plan of a filter, and why ([`crate::query::Filter::plan`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// How it reads the dataset.
    pub access: Access,
    /// Why this plan.
    pub reason: String,
    /// Rows in the dataset.
    pub rows: u64,
    /// Rows it evaluates.
    pub rows_read: u64,
    /// Ranges of rows it evaluates.
    pub ranges: u64,
    /// Zones in the dataset.
    pub zones: u64,
    /// Zones the zone maps keep.
    pub zones_kept: u64,
    /// Zones the zone maps rule out.
    pub zones_skipped: u64,
    /// Rows the zone maps keep.
    pub rows_kept_by_zones: u64,
    /// The sorted index probed, for an index probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<PlanIndex>,
    /// Sorted indexes considered, with what they would read or why they were not used.
    pub indexes: Vec<(String, String)>,
    /// The columns the filter reads.
    pub columns: Vec<PlanColumn>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan: {} ({})", self.access, self.reason)?;
        writeln!(
            f,
            "zones: {} of {} kept, {} skipped ({} rows)",
            self.zones_kept, self.zones, self.zones_skipped, self.rows_kept_by_zones
        )?;
        if let Some(i) = &self.index {
            writeln!(
                f,
                "index: {:?}, positions {}..{}, {} pages of row numbers",
                i.column, i.positions[0], i.positions[1], i.pages_touched
            )?;
        }
        for (name, what) in &self.indexes {
            writeln!(f, "sorted index {name:?}: {what}")?;
        }
        writeln!(f, "rows read: {} of {} in {} ranges", self.rows_read, self.rows, self.ranges)?;
        for c in &self.columns {
            write!(f, "column {:?}: {} of {} pages touched", c.name, c.pages_touched, c.pages)?;
            match &c.zone_maps_ignored {
                Some(why) => writeln!(f, " (zone maps not used: {why})")?,
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}

/// Per sorted index considered: its column and what it would read or why it is not used.
type Notes = Vec<(String, String)>;

/// A probe that a sorted index allows.
struct Probe {
    column: String,
    positions: Range<u64>,
    rows: Vec<Range<u64>>,
}

/// Row numbers in order as ranges, rows up to [`MERGE_GAP`] apart in one.
fn ranges_of(mut rows: Vec<u64>) -> Vec<Range<u64>> {
    rows.sort_unstable();
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some(last) if r <= last.end + MERGE_GAP => last.end = last.end.max(r + 1),
            _ => out.push(r..r + 1),
        }
    }
    out
}

/// Pages of the row-number file of an index that positions `p` fall on.
fn index_pages(p: &Range<u64>) -> u64 {
    let page = crate::sys::page_size() as u64;
    let (a, b) = (p.start * 8, p.end * 8);
    if b > a { b.div_ceil(page) - a / page } else { 0 }
}

/// Pages of the columns `names` that reading `ranges` touches.
fn pages(maps: &ZoneMaps, names: &[&str], ranges: &[Range<u64>]) -> u64 {
    names.iter().map(|n| maps.pages(n, ranges).0).sum()
}

/// The sorted index that bounds `e` to the fewest rows, if a probe through it may be worth
/// its cost against a scan of `scan_rows` rows (or is `forced`), and a note on each index
/// considered.
fn best_probe(
    ds: &Dataset,
    e: &Expr,
    scan_rows: u64,
    forced: bool,
) -> Result<(Option<Probe>, Notes)> {
    let named: Vec<&str> = e.columns();
    let mut notes = Vec::new();
    let mut best: Option<(String, Range<u64>)> = None;
    for column in crate::zones::sorted::indexed_columns(ds) {
        if !named.contains(&column.as_str()) {
            continue;
        }
        let idx = match SortedIndex::open(ds, &column) {
            Ok(i) => i,
            Err(why) => {
                notes.push((column, format!("not used: {why}")));
                continue;
            }
        };
        match idx.probe(e)? {
            None => notes.push((column, "the filter does not bound it".into())),
            Some(p) => {
                notes.push((column.clone(), format!("{} rows in range", p.end - p.start)));
                if best.as_ref().is_none_or(|(_, b)| p.end - p.start < b.end - b.start) {
                    best = Some((column, p));
                }
            }
        }
    }
    let Some((column, positions)) = best else { return Ok((None, notes)) };
    let found = positions.end - positions.start;
    if found > MAX_PROBE_ROWS || (!forced && found.saturating_mul(PROBE_COST) >= scan_rows) {
        return Ok((None, notes));
    }
    let idx = SortedIndex::open(ds, &column)?;
    let rows = ranges_of(idx.rows_at(positions.clone())?);
    Ok((Some(Probe { column, positions, rows }), notes))
}

/// The plan for the filter `e` over `ds`, and the row ranges it evaluates.
#[allow(clippy::too_many_lines)] // one decision, read top to bottom
pub(super) fn plan(ds: &Dataset, e: &Expr, choice: PlanChoice) -> Result<(Plan, Vec<Range<u64>>)> {
    // Stale or damaged zone maps are ignored by `ZoneMaps::open`: all their rows are kept.
    let maps = ZoneMaps::open(ds)?;
    let names = e.columns();
    let kept_zones = maps.kept_zones(e).iter().filter(|k| **k).count() as u64;
    let pruned = maps.prune(e);
    let rows = ds.rows();
    let rows_pruned: u64 = pruned.iter().map(|r| r.end - r.start).sum();
    let (probe, indexes) = match choice {
        PlanChoice::FullScan | PlanChoice::PrunedScan => (None, Vec::new()),
        c => best_probe(ds, e, rows_pruned, c == PlanChoice::IndexProbe)?,
    };
    let scan = if kept_zones < maps.zones() { Access::PrunedScan } else { Access::FullScan };
    // Pages a probe reads are scattered, each costs RANDOM_PAGE_COST pages of a scan; with
    // no page to count (strings only), the rows compared above decide.
    let scan_pages = pages(&maps, &names, &pruned);
    let probe_cost = probe.as_ref().map(|p| {
        let cost = pages(&maps, &names, &p.rows) + index_pages(&p.positions);
        (cost.saturating_mul(RANDOM_PAGE_COST), p)
    });
    let (access, reason) = match (choice, probe_cost) {
        (PlanChoice::FullScan, _) => (Access::FullScan, "forced".to_string()),
        (PlanChoice::PrunedScan, _) => (Access::PrunedScan, "forced".to_string()),
        (PlanChoice::IndexProbe, Some(_)) => (Access::IndexProbe, "forced".to_string()),
        (_, Some((cost, p))) if cost < scan_pages || scan_pages == 0 => (
            Access::IndexProbe,
            format!(
                "the sorted index of {:?} finds {} rows on {} pages (cost {cost}), a scan of the \
                 zones kept reads {scan_pages} pages",
                p.column,
                p.positions.end - p.positions.start,
                cost / RANDOM_PAGE_COST
            ),
        ),
        (c, p) => {
            let why = match scan {
                Access::PrunedScan => format!(
                    "the zone maps rule out {} of {} zones",
                    maps.zones() - kept_zones,
                    maps.zones()
                ),
                _ if maps.ignored().len() == ds.manifest().columns.len() && rows > 0 => {
                    "no zone maps to prune by".to_string()
                }
                _ => "the zone maps rule out no zone".to_string(),
            };
            let probe_note = match p {
                Some((cost, p)) => format!(
                    "; a probe of {:?} would read {} pages (cost {cost}), a scan {scan_pages}",
                    p.column,
                    cost / RANDOM_PAGE_COST
                ),
                None if c == PlanChoice::IndexProbe => {
                    "; no sorted index bounds the filter (probe not possible)".to_string()
                }
                None if indexes.iter().any(|(_, n)| n.ends_with("rows in range")) => format!(
                    "; a probe costs more than {PROBE_COST} rows of a scan a row, or passes \
                     {MAX_PROBE_ROWS} rows"
                ),
                None => String::new(),
            };
            (scan, format!("{why}{probe_note}"))
        }
    };
    let (ranges, index) = match (access, probe) {
        (Access::IndexProbe, Some(p)) => {
            let index = PlanIndex {
                column: p.column,
                positions: [p.positions.start, p.positions.end],
                pages_touched: index_pages(&p.positions),
            };
            (p.rows, Some(index))
        }
        (Access::PrunedScan, _) => (pruned, None),
        _ => ((rows > 0).then_some(0..rows).into_iter().collect(), None),
    };
    let columns = names
        .iter()
        .map(|&name| {
            let (pages_touched, pages) = maps.pages(name, &ranges);
            PlanColumn {
                name: name.to_string(),
                pages_touched,
                pages,
                zone_maps_ignored: maps
                    .ignored()
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, why)| why.clone()),
            }
        })
        .collect();
    let plan = Plan {
        access,
        reason,
        rows,
        rows_read: ranges.iter().map(|r| r.end - r.start).sum(),
        ranges: ranges.len() as u64,
        zones: maps.zones(),
        zones_kept: kept_zones,
        zones_skipped: maps.zones() - kept_zones,
        rows_kept_by_zones: rows_pruned,
        index,
        indexes,
        columns,
    };
    Ok((plan, ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_found_merge_into_ranges_when_near() {
        assert_eq!(ranges_of(vec![9, 3, 4, 100, 50]), vec![3..10, 50..51, 100..101]);
        assert_eq!(ranges_of(vec![9, 3, 42]), vec![3..43]);
        assert_eq!(ranges_of(vec![0, 33]), vec![0..34]);
        assert_eq!(ranges_of(vec![0, 34]), vec![0..1, 34..35]);
        assert!(ranges_of(Vec::new()).is_empty());
    }
}
