//! Zone maps: per column and per zone of [`ZONE_ROWS`] rows, the smallest and largest value,
//! the missing and NaN counts and, for a categorical column with few categories, the set of
//! codes present, kept as `.npy` files in the dataset's `zones/` directory (see
//! `docs/format.md`). They let a filter skip the zones it cannot match ([`ZoneMaps::prune`]).
//!
//! Zone maps are tied to the files they describe: `zones/index.json` records each column
//! file's size, modification and change times and inode, the dataset's row count, the
//! column's dtype and number of categories, and each zone file's size and XXH3 hash. A column
//! whose files do not match (an append by a larder that did not know zone maps, an edit of a
//! value, a truncated or edited zone file) is *ignored*: [`ZoneMaps::open`] keeps the reason
//! and pruning keeps every row of that column's zones. Statistics are never trusted without
//! that check.
//!
//! ```
//! use larder::convert::ConvertOptions;
//! use larder::zones::ZoneMaps;
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("t.csv");
//! let mut text = String::from("x\n");
//! for i in 0..20_000 { text.push_str(&format!("{i}\n")); }
//! std::fs::write(&csv, text)?;
//! let out = dir.path().join("t");
//! ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
//! larder::zones::build(&out)?; // what `larder index` does
//! let zones = ZoneMaps::open(&larder::Dataset::open(&out)?)?;
//! let e = larder::expr::parse("x >= 19000")?;
//! assert_eq!(zones.prune(&e), [16_384..20_000]); // the first two zones cannot match
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod build;
mod explain;
mod files;
mod prune;
pub mod sorted;

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

pub use explain::{Explain, ExplainColumn};
pub use sorted::SortedIndex;

use crate::dataset::Dataset;
use crate::error::Result;

/// Rows per zone. A 1-byte column's zone is two 4 KiB pages, an 8-byte column's sixteen; the
/// statistics of a zone then cost at most 0.5 % of the data they describe (the bound in
/// `docs/format.md`), and a zone skipped saves whole pages of every column read.
pub const ZONE_ROWS: u64 = 8192;

/// The directory inside a dataset that holds the zone maps.
pub const ZONES_DIR: &str = "zones";

/// The file in [`ZONES_DIR`] that lists the zone files and ties them to the columns.
pub const ZONES_INDEX: &str = "index.json";

/// A number as pruning compares it: integers (datetimes in nanoseconds) exactly, floats as
/// they are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    I(i128),
    F(f64),
}

/// The zone statistics of one column, loaded and checked.
#[derive(Clone, Debug)]
pub(crate) struct ColumnZones {
    /// What the values mean for comparisons.
    pub(crate) kind: files::StatKind,
    /// Smallest and largest value per zone (meaningless where [`ColumnZones::values`] is 0).
    pub(crate) min: Vec<Num>,
    pub(crate) max: Vec<Num>,
    /// Missing values per zone.
    pub(crate) nulls: Vec<u32>,
    /// NaN values per zone (floats).
    pub(crate) nans: Vec<u32>,
    /// For categoricals with few categories: bytes per zone and the bitmaps.
    pub(crate) codes: Option<(usize, Vec<u8>)>,
    /// A categorical's categories, for labels in expressions.
    pub(crate) labels: Option<HashMap<String, u64>>,
    /// Nanoseconds per stored unit of a datetime column (1 for the others).
    pub(crate) scale: i128,
}

/// The extreme value of a zone ([`ZoneMaps::extreme`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Extreme {
    /// The zone holds only missing values (and NaN).
    Missing,
    /// Its smallest or largest value, in the column's stored units.
    Value(Num),
}

/// The zone maps of a dataset, checked against its files (see the module docs).
#[derive(Clone, Debug)]
pub struct ZoneMaps {
    rows: u64,
    zone_rows: u64,
    columns: HashMap<String, ColumnZones>,
    /// Columns without usable zone maps, with the reason.
    ignored: Vec<(String, String)>,
    /// Per column: its file, the offset of its data and the bytes per value.
    layout: HashMap<String, (std::path::PathBuf, u64, u64)>,
}

impl ZoneMaps {
    /// The zone maps of `ds`, each column's checked against its files. A dataset without zone
    /// maps, or a column whose zone maps are stale or damaged, gets none: pruning then keeps
    /// every row, and [`ZoneMaps::ignored`] says why.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when a column's files cannot be examined.
    pub fn open(ds: &Dataset) -> Result<ZoneMaps> {
        files::load(ds)
    }

    /// Rows in the dataset.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows per zone ([`ZONE_ROWS`] for zone maps this larder writes).
    pub fn zone_rows(&self) -> u64 {
        self.zone_rows
    }

    /// Number of zones: the rows divided by the zone size, rounded up.
    pub fn zones(&self) -> u64 {
        self.rows.div_ceil(self.zone_rows.max(1))
    }

    /// True when `column` has zone maps that match its files.
    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The columns whose zone maps are missing, stale or damaged, with the reason.
    pub fn ignored(&self) -> &[(String, String)] {
        &self.ignored
    }

    /// The row ranges that may hold rows for which `expr` is true, in order, disjoint and not
    /// adjacent: every row outside them is certain not to match. Conservative: what the zone
    /// statistics cannot decide (a column without zone maps, arithmetic, `LIKE`, a string
    /// column) keeps the zone.
    pub fn prune(&self, expr: &crate::expr::Expr) -> Vec<Range<u64>> {
        let keep = self.kept_zones(expr);
        let mut out: Vec<Range<u64>> = Vec::new();
        for (z, k) in keep.iter().enumerate() {
            if !*k {
                continue;
            }
            let start = z as u64 * self.zone_rows;
            let end = (start + self.zone_rows).min(self.rows);
            match out.last_mut() {
                Some(r) if r.end == start => r.end = end,
                _ => out.push(start..end),
            }
        }
        out
    }

    /// Per zone, whether `expr` may be true on one of its rows.
    pub fn kept_zones(&self, expr: &crate::expr::Expr) -> Vec<bool> {
        (0..self.zones()).map(|z| prune::may_be_true(self, expr, z)).collect()
    }

    /// What pruning `expr` keeps and skips, and the pages of each column it names that a scan
    /// of the kept rows touches.
    pub fn explain(&self, expr: &crate::expr::Expr) -> Explain {
        explain::explain(self, expr)
    }

    /// The smallest (or `largest`) value of zone `z` of `column`, if its zone maps are
    /// current and the column is a number, bool or datetime.
    pub(crate) fn extreme(&self, column: &str, z: u64, largest: bool) -> Option<Extreme> {
        let c = self.columns.get(column).filter(|c| c.kind != files::StatKind::Codes)?;
        let i = usize::try_from(z).ok()?;
        let missing = u64::from(*c.nulls.get(i)?) + u64::from(*c.nans.get(i)?);
        if missing >= self.zone_len(z) {
            return Some(Extreme::Missing);
        }
        Some(Extreme::Value(match if largest { c.max[i] } else { c.min[i] } {
            Num::I(v) => Num::I(v / c.scale),
            Num::F(f) => Num::F(f),
        }))
    }

    /// Length of zone `z`.
    pub(crate) fn zone_len(&self, z: u64) -> u64 {
        let start = z * self.zone_rows;
        self.rows.saturating_sub(start).min(self.zone_rows)
    }
}

/// Builds the zone maps of every column of the dataset in `dir` and writes them to
/// `dir/zones/`, replacing any there were (each file atomically, `index.json` last). Memory
/// stays bounded: a column is read zone by zone through its mapping, and only the statistics
/// are kept. String columns get none (pruning keeps their zones).
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) on a read or write error; as [`Dataset::open`].
pub fn build(dir: &Path) -> Result<BuildReport> {
    build::build(dir, None)
}

/// What [`build`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Columns given zone maps.
    pub columns: usize,
    /// Zones per column.
    pub zones: u64,
    /// Bytes of the zone files and the index.
    pub bytes: u64,
    /// Columns without zone maps, with the reason (string columns).
    pub skipped: Vec<(String, String)>,
}

/// The zone maps of a dataset before an append, so that [`after_append`] extends them.
#[derive(Debug)]
pub struct BeforeAppend(Option<files::Index>);

/// Notes which zone maps of the dataset in `dir` are current, before an append changes it.
pub fn before_append(dir: &Path) -> BeforeAppend {
    BeforeAppend(Dataset::open(dir).ok().and_then(|ds| files::current_index(&ds)))
}

/// Extends the zone maps that were current before an append to the rows it added: zones
/// wholly before the first new row are kept, the last one and those after are computed, so
/// the work grows with the rows added. Columns whose zone maps were not current are left out
/// of the index (`larder index` builds them again). Nothing happens to a dataset that had no
/// zone maps. The append has happened by then: a failure to write the zone maps removes
/// their index (the dataset then has none until `larder index`) rather than failing it.
pub fn after_append(dir: &Path, before: &BeforeAppend) {
    if let Some(index) = &before.0
        && build::build(dir, Some(index)).is_err()
    {
        let _ = std::fs::remove_file(dir.join(ZONES_DIR).join(ZONES_INDEX));
    }
}
