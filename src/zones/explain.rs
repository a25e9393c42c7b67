//! What pruning an expression keeps and skips, and the pages a scan of the rest touches.

use std::fmt;
use std::ops::Range;

use super::ZoneMaps;
use crate::expr::Expr;

/// The outcome of pruning one expression ([`ZoneMaps::explain`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explain {
    /// Zones in the dataset.
    pub zones: u64,
    /// Zones that may match.
    pub kept: u64,
    /// The row ranges kept.
    pub ranges: Vec<Range<u64>>,
    /// Rows in the kept ranges.
    pub rows_kept: u64,
    /// Rows in the dataset.
    pub rows: u64,
    /// Per column the expression names: its name, the pages of its file that a scan of the
    /// kept rows touches, the pages of all its rows, and why it has no zone maps, if not.
    pub columns: Vec<ExplainColumn>,
}

/// One column of an [`Explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplainColumn {
    /// The column.
    pub name: String,
    /// Pages of its file a scan of the kept rows reads.
    pub pages_touched: u64,
    /// Pages holding all its rows.
    pub pages: u64,
    /// Why its zone maps are not used, if they are not.
    pub ignored: Option<String>,
}

/// Pages of `page` bytes that bytes `[start, end)` of a file fall on.
fn pages_of(start: u64, end: u64, page: u64) -> Range<u64> {
    if end <= start { 0..0 } else { start / page..end.div_ceil(page) }
}

impl ZoneMaps {
    /// Pages of `column`'s file that reading rows `ranges` (in order, apart) touches, and the
    /// pages of all its rows; `(0, 0)` for a column without a fixed width (strings).
    pub fn pages(&self, column: &str, ranges: &[Range<u64>]) -> (u64, u64) {
        let page = crate::sys::page_size() as u64;
        let (mut touched, mut pages) = (0, 0);
        if let Some((_, offset, size)) = self.layout.get(column) {
            let at = |row: u64| offset + row * size;
            pages = pages_of(at(0), at(self.rows), page).count() as u64;
            // Ranges are apart, but two may share a page; count it once.
            let mut last: Option<u64> = None;
            for r in ranges {
                let p = pages_of(at(r.start), at(r.end), page);
                let first = match last {
                    Some(l) if l >= p.start => l + 1,
                    _ => p.start,
                };
                touched += p.end.saturating_sub(first);
                last = p.end.checked_sub(1).or(last);
            }
        }
        (touched, pages)
    }
}

pub(super) fn explain(maps: &ZoneMaps, expr: &Expr) -> Explain {
    let ranges = maps.prune(expr);
    let mut columns = Vec::new();
    for name in expr.columns() {
        let ignored = maps.ignored.iter().find(|(n, _)| n == name).map(|(_, why)| why.clone());
        let (touched, pages) = maps.pages(name, &ranges);
        columns.push(ExplainColumn {
            name: name.to_string(),
            pages_touched: touched,
            pages,
            ignored,
        });
    }
    Explain {
        zones: maps.zones(),
        kept: maps.kept_zones(expr).iter().filter(|k| **k).count() as u64,
        rows_kept: ranges.iter().map(|r| r.end - r.start).sum(),
        ranges,
        rows: maps.rows,
        columns,
    }
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "zones: {} of {} kept, {} skipped ({} rows per zone)",
            self.kept,
            self.zones,
            self.zones - self.kept,
            super::ZONE_ROWS
        )?;
        writeln!(f, "rows: {} of {} in {} ranges", self.rows_kept, self.rows, self.ranges.len())?;
        for c in &self.columns {
            write!(f, "column {:?}: {} of {} pages touched", c.name, c.pages_touched, c.pages)?;
            match &c.ignored {
                Some(why) => writeln!(f, " (zone maps not used: {why})")?,
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}
