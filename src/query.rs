//! Row filters evaluated over a [`Dataset`]: the `--where` expressions of [`crate::expr`],
//! bound to the dataset's columns and evaluated a block of rows at a time.
//!
//! ```
//! use larder::dataset::Dataset;
//! use larder::query::Filter;
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("log.csv");
//! std::fs::write(&csv, "region,status,latency\neu,200,1.5\nus,NA,2.5\neu,500,3.5\n")?;
//! # let out = dir.path().join("log");
//! # larder::convert::ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
//! let ds = Dataset::open(&out)?;
//! let f = Filter::new(&ds, "region = 'eu' AND latency > 2")?;
//! assert_eq!(f.count()?, 1);
//! assert_eq!(f.matches(0..ds.rows())?, [2]);
//! // Missing values are SQL NULL: neither `status = 200` nor `NOT status = 200` holds.
//! assert_eq!(Filter::new(&ds, "NOT status = 200")?.matches(0..3)?, [2]);
//! // A label the categorical does not have is an error, not zero rows.
//! let e = Filter::new(&ds, "region = 'mars'").unwrap_err().to_string();
//! assert!(e.contains("no category 'mars'"), "{e}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How it works: [`Filter::new`] parses the text, looks every column up and checks the types
//! of every operator (errors mark the position in the text), and compiles predicates on a
//! categorical against literals into a table indexed by code. Evaluation then takes the rows
//! [`BLOCK_ROWS`] at a time: each block's values are read from the mapped files into vectors
//! of that length, so memory stays bounded whatever the dataset's size. Where the dataset has
//! current zone maps ([`crate::zones`], made by `larder index`), the filter keeps the row
//! ranges they cannot rule out ([`Filter::kept`]) and reads nothing of the other zones: their
//! rows are known not to match. The semantics (NULL, NaN, types, arithmetic) are in
//! `docs/compute.md`.

mod bind;
mod eval;
mod like;
pub mod plan;

use std::ops::Range;

use crate::dataset::{ColumnData, Dataset};
use crate::error::{Error, Result};
use crate::expr::{self, Expr};
pub use plan::{Access, Plan, PlanChoice};

/// Rows evaluated at a time.
pub const BLOCK_ROWS: usize = 1 << 16;

/// A `WHERE` expression bound to a dataset's columns, ready to evaluate. Each block's pages of
/// the columns it reads are dropped from the resident set once evaluated (the filter maps the
/// columns itself, so no other reader's pages are touched).
#[derive(Debug)]
pub struct Filter {
    text: String,
    node: bind::Node,
    columns: Vec<ColumnData>,
    rows: u64,
    /// The row ranges the plan reads (those the zone maps or a sorted index cannot rule
    /// out), in order and disjoint.
    kept: Vec<Range<u64>>,
    plan: Plan,
}

impl Filter {
    /// Parses `text` and binds it to `dataset`.
    ///
    /// # Errors
    /// [`Error::Argument`] quoting the expression with the position marked: a syntax error, an
    /// unknown column, an operator on types it does not take (a string compared with a
    /// number), a label a categorical does not have, an expression that is not a condition;
    /// as [`ColumnData::of`] for the columns it names.
    pub fn new(dataset: &Dataset, text: &str) -> Result<Filter> {
        let e = expr::parse(text)?;
        Filter::from_expr(dataset, &e, text)
    }

    /// Binds the parsed `e` (parsed from `text`, which errors quote) to `dataset`.
    ///
    /// # Errors
    /// As [`Filter::new`].
    pub fn from_expr(dataset: &Dataset, e: &Expr, text: &str) -> Result<Filter> {
        Filter::planned(dataset, e, text, PlanChoice::Auto)
    }

    /// [`Filter::new`] with the plan `choice` rather than the planner's (the rows that match
    /// are the same whatever the plan).
    ///
    /// # Errors
    /// As [`Filter::new`].
    pub fn with_plan(dataset: &Dataset, text: &str, choice: PlanChoice) -> Result<Filter> {
        let e = expr::parse(text)?;
        Filter::planned(dataset, &e, text, choice)
    }

    fn planned(dataset: &Dataset, e: &Expr, text: &str, choice: PlanChoice) -> Result<Filter> {
        let mut b = bind::Binder::new(dataset, text);
        let node = b.condition(e)?;
        let (plan, kept) = plan::plan(dataset, e, choice)?;
        Ok(Filter {
            text: text.to_string(),
            node,
            columns: b.into_columns(),
            rows: dataset.rows(),
            kept,
            plan,
        })
    }

    /// The row ranges that may match, by the plan: the zones the dataset's zone maps keep
    /// (every row where it has none or they are not current), or the rows a sorted index
    /// finds. Evaluation reads nothing of the others.
    pub fn kept(&self) -> &[Range<u64>] {
        &self.kept
    }

    /// The plan chosen, and why (`--explain`).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// `ranges` cut to the rows the zone maps keep.
    fn pruned(&self, ranges: &[Range<u64>]) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        for r in ranges {
            let first = self.kept.partition_point(|k| k.end <= r.start);
            for k in self.kept[first..].iter().take_while(|k| k.start < r.end) {
                out.push(k.start.max(r.start)..k.end.min(r.end));
            }
        }
        out
    }

    /// The expression as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The dataset's rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The names of the columns the expression reads.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(ColumnData::name)
    }

    /// Evaluates the rows of `ranges`, in order, [`BLOCK_ROWS`] at a time, calling
    /// `f(first_row, mask)` for each block: `mask[i]` is true when row `first_row + i` matches
    /// (the condition is TRUE, not FALSE or NULL). Every row of `ranges` is in one block; the
    /// rows outside [`Filter::kept`] are false without being read. A caught SIGINT/SIGTERM or
    /// a cancelled [`crate::Cancel`] token stops it between blocks.
    ///
    /// # Errors
    /// [`Error::Signal`], [`Error::Cancelled`];
    /// [`Error::Argument`] for a range past the dataset's rows or reversed; an integer overflow
    /// in the expression (with its position); errors reading the columns (damaged files);
    /// whatever `f` returns.
    pub fn for_each_block(
        &self,
        ranges: &[Range<u64>],
        mut f: impl FnMut(u64, &[bool]) -> Result<()>,
    ) -> Result<()> {
        self.check_ranges(ranges)?;
        for r in ranges {
            let mut lo = r.start;
            while lo < r.end {
                // A caught signal or a cancelled token stops between blocks.
                crate::sys::check_interrupt()?;
                let hi = r.end.min(lo.saturating_add(BLOCK_ROWS as u64));
                let mask = self.block_mask(lo..hi)?;
                f(lo, &mask)?;
                lo = hi;
            }
        }
        Ok(())
    }

    /// The mask of the rows of `block`: the kept parts evaluated, the rest false.
    fn block_mask(&self, block: Range<u64>) -> Result<Vec<bool>> {
        let len = to_usize(block.end - block.start)?;
        let mut mask = vec![false; len];
        for part in self.pruned(std::slice::from_ref(&block)) {
            let (a, b) = (to_usize(part.start)?, to_usize(part.end)?);
            let ctx = eval::Block { columns: &self.columns, text: &self.text, lo: a, hi: b };
            let m = ctx.mask(&self.node)?;
            ctx.release()?;
            let at = to_usize(part.start - block.start)?;
            mask[at..at + m.len()].copy_from_slice(&m);
        }
        Ok(mask)
    }

    /// Calls `f` with the matching row numbers of `ranges`, in order, a block at a time.
    ///
    /// # Errors
    /// As [`Filter::for_each_block`].
    pub fn for_each_match(
        &self,
        ranges: &[Range<u64>],
        mut f: impl FnMut(&[u64]) -> Result<()>,
    ) -> Result<()> {
        let mut rows = Vec::new();
        self.check_ranges(ranges)?;
        self.for_each_block(&self.pruned(ranges), |lo, mask| {
            rows.clear();
            rows.extend(mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| lo + i as u64));
            if rows.is_empty() { Ok(()) } else { f(&rows) }
        })
    }

    /// The matching rows of `range`, in order. This holds every match in memory (8 bytes a
    /// row); [`Filter::for_each_match`] streams them.
    ///
    /// # Errors
    /// As [`Filter::for_each_block`].
    pub fn matches(&self, range: Range<u64>) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.for_each_match(&[range], |rows| {
            out.extend_from_slice(rows);
            Ok(())
        })?;
        Ok(out)
    }

    /// How many rows of `ranges` match.
    ///
    /// # Errors
    /// As [`Filter::for_each_block`].
    pub fn count_in(&self, ranges: &[Range<u64>]) -> Result<u64> {
        let mut n = 0u64;
        self.check_ranges(ranges)?;
        self.for_each_block(&self.pruned(ranges), |_, mask| {
            n += mask.iter().filter(|&&m| m).count() as u64;
            Ok(())
        })?;
        Ok(n)
    }

    /// How many rows of the dataset match.
    ///
    /// # Errors
    /// As [`Filter::for_each_block`].
    pub fn count(&self) -> Result<u64> {
        self.count_in(std::slice::from_ref(&(0..self.rows)))
    }
}

impl Filter {
    fn check_ranges(&self, ranges: &[Range<u64>]) -> Result<()> {
        match ranges.iter().find(|r| r.start > r.end || r.end > self.rows) {
            Some(r) => Err(Error::argument(format!(
                "rows {}..{}: the dataset has {} rows",
                r.start, r.end, self.rows
            ))),
            None => Ok(()),
        }
    }
}

fn to_usize(n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::argument(format!("row {n} is past this machine's reach")))
}
