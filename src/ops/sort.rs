//! `larder sort`: a dataset's rows ordered by some of its columns, written as a new dataset
//! of the same format, in bounded memory; or only the first K rows of that order (top-k).
//!
//! The order is pandas' `sort_values(by, ascending, kind="stable", na_position="last")`:
//! missing values and NaN last whatever the direction, equal keys in their original order,
//! categoricals by label, strings by their bytes (code points).
//!
//! A full sort is an external merge sort: row keys (bytes that compare as the rows order) are
//! gathered into sorted runs of at most the memory budget, each written to a work directory
//! inside the output's staging directory, and merged k ways into the permutation; then every
//! column is written in that order. A top-k sort keeps the K best keys in a heap, and skips the zones whose
//! smallest (largest, descending) value of the first key cannot beat the K-th it holds.
//!
//! ```
//! use larder::ops::sort::{SortKey, SortOptions};
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("t.csv");
//! std::fs::write(&csv, "k,v\n3,a\n1,b\n,c\n2,d\n")?;
//! let ds = dir.path().join("t");
//! larder::ConvertOptions::new().convert(&csv, &ds, &mut |_| {})?;
//! let out = dir.path().join("sorted");
//! SortOptions::new(SortKey::parse_list("-k")?).sort(&ds, &out)?;
//! let sorted = larder::Dataset::open(&out)?;
//! assert_eq!(sorted.column("k")?.values::<i64>()?.as_slice()?, &[3, 2, 1, 0]); // 0: missing
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod index;
pub(crate) mod keys;
mod write;

pub use index::{SortedIndexReport, build_sorted_index, drop_sorted_index};

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use keys::{KeyColumn, KeyValue, KeyView, encode};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;
use crate::zones::{Extreme, Num, ZoneMaps};

/// One column to sort by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// The column's name.
    pub column: String,
    /// Largest first.
    pub descending: bool,
}

impl SortKey {
    /// Parses `col[,-col2…]`: a leading `-` sorts that column descending.
    ///
    /// # Errors
    /// [`Error::Argument`] for an empty list or name.
    pub fn parse_list(text: &str) -> Result<Vec<SortKey>> {
        let keys: Vec<SortKey> = text
            .split(',')
            .map(|k| {
                let k = k.trim();
                let (column, descending) = match k.strip_prefix('-') {
                    Some(rest) => (rest.trim(), true),
                    None => (k, false),
                };
                if column.is_empty() {
                    return Err(Error::argument(format!(
                        "--by {text:?}: an empty column name (write col1,-col2)"
                    )));
                }
                Ok(SortKey { column: column.to_string(), descending })
            })
            .collect::<Result<_>>()?;
        Ok(keys)
    }
}

/// How to sort: the keys, a limit for top-k, the memory budget.
#[derive(Clone, Debug)]
pub struct SortOptions {
    keys: Vec<SortKey>,
    limit: Option<u64>,
    memory: usize,
    use_index: bool,
}

/// What a sort did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortReport {
    /// Rows written.
    pub rows: u64,
    /// Sorted runs written to disk (0 when the keys fit the memory budget).
    pub runs: usize,
    /// Zones a top-k sort skipped, by the zone maps of its first key.
    pub zones_skipped: u64,
    /// The order was read from a current sorted index of the one key column (nothing was
    /// sorted).
    pub via_index: bool,
}

/// The default memory budget for the keys held at once: 256 MiB.
pub const DEFAULT_MEMORY: usize = 256 << 20;

impl SortOptions {
    /// Sorting by `keys`, every row, with the default memory budget.
    pub fn new(keys: Vec<SortKey>) -> SortOptions {
        SortOptions { keys, limit: None, memory: DEFAULT_MEMORY, use_index: true }
    }

    /// Whether a current sorted index of the key column (one key only) gives the order
    /// instead of sorting (the default); the result is the same either way.
    pub fn use_index(&mut self, yes: bool) -> &mut Self {
        self.use_index = yes;
        self
    }

    /// Only the first `k` rows of the order (top-k).
    pub fn limit(&mut self, k: Option<u64>) -> &mut Self {
        self.limit = k;
        self
    }

    /// Bytes of keys held in memory before a sorted run is written out (at least 64 KiB).
    pub fn memory(&mut self, bytes: usize) -> &mut Self {
        self.memory = bytes.max(64 << 10);
        self
    }

    /// Writes the rows of the dataset `src` in order as the new dataset `out`, which appears
    /// only once complete (its staging directory, beside it, holds the sorted runs meanwhile).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an `out` that exists; [`Error::Argument`] for no key or an
    /// unknown column; as [`Dataset::open`]; [`Error::Io`] on read or write errors.
    pub fn sort(&self, src: &Path, out: &Path) -> Result<SortReport> {
        if self.keys.is_empty() {
            return Err(Error::argument("sort: no column to sort by"));
        }
        if out.exists() {
            return Err(Error::invalid(out, "already exists; sort into a new directory"));
        }
        crate::fsutil::check_parent_exists(out)?;
        let ds = Dataset::open(src)?;
        let index = match &self.keys[..] {
            [k] if self.use_index => crate::zones::SortedIndex::open(&ds, &k.column).ok(),
            _ => None,
        };
        if let Some(idx) = index {
            let tmp = TempGuard::beside(out);
            std::fs::create_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
            let work = tmp.path().join(".sort-runs");
            std::fs::create_dir(&work).map_err(|e| Error::io(&work, e))?;
            let perm = work.join("order.u64");
            let rows = index::order_from_index(&idx, self.keys[0].descending, self.limit, &perm)?;
            write::dataset(&ds, &perm, rows, tmp.path())?;
            std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
            tmp.commit(out)?;
            return Ok(SortReport { rows, via_index: true, ..SortReport::default() });
        }
        let columns = self.key_columns(&ds)?;
        let columns = columns.iter().map(KeyColumn::view).collect::<Result<Vec<_>>>()?;
        let tmp = TempGuard::beside(out);
        std::fs::create_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
        let work = tmp.path().join(".sort-runs");
        std::fs::create_dir(&work).map_err(|e| Error::io(&work, e))?;
        let mut report = SortReport::default();
        let perm = work.join("order.u64");
        let rows = match self.limit {
            Some(k) => self.top_k(&ds, &columns, k, &perm, &mut report)?,
            None => self.full(&ds, &columns, &work, &perm, &mut report)?,
        };
        write::dataset(&ds, &perm, rows, tmp.path())?;
        std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        tmp.commit(out)?;
        report.rows = rows;
        Ok(report)
    }

    /// The key columns of `ds`, opened in the order of the keys.
    fn key_columns(&self, ds: &Dataset) -> Result<Vec<KeyColumn>> {
        self.keys.iter().map(|k| KeyColumn::open(&ds.column(&k.column)?, k.descending)).collect()
    }

    /// Sorts every row of `ds` by the keys into the order file `perm` (row numbers, u64 LE),
    /// with sorted runs in `work`; the number of runs.
    pub(crate) fn order_file(&self, ds: &Dataset, work: &Path, perm: &Path) -> Result<usize> {
        let columns = self.key_columns(ds)?;
        let columns = columns.iter().map(KeyColumn::view).collect::<Result<Vec<_>>>()?;
        let mut report = SortReport::default();
        self.full(ds, &columns, work, perm, &mut report)?;
        Ok(report.runs)
    }

    /// The key of row `row`, then its number.
    fn key(columns: &[KeyView<'_>], row: usize, out: &mut Vec<u8>) -> Result<()> {
        for c in columns {
            c.encode_row(row, out)?;
        }
        out.extend_from_slice(&(row as u64).to_be_bytes());
        Ok(())
    }

    /// Sorts every row: runs, then a k-way merge; writes the order to `perm`.
    fn full(
        &self,
        ds: &Dataset,
        columns: &[KeyView<'_>],
        work: &Path,
        perm: &Path,
        report: &mut SortReport,
    ) -> Result<u64> {
        let rows = usize::try_from(ds.rows()).map_err(|e| Error::internal(e.to_string()))?;
        let mut arena: Vec<u8> = Vec::new();
        let mut starts: Vec<usize> = Vec::new();
        let mut runs: Vec<PathBuf> = Vec::new();
        let mut order = Order::create(perm)?;
        for row in 0..rows {
            starts.push(arena.len());
            Self::key(columns, row, &mut arena)?;
            if arena.len() + starts.len() * 8 >= self.memory {
                runs.push(write_run(work, runs.len(), &arena, &starts)?);
                (arena, starts) = (Vec::new(), Vec::new());
            }
        }
        if runs.is_empty() {
            for k in sorted(&arena, &starts) {
                order.push(row_of(k))?;
            }
        } else {
            if !starts.is_empty() {
                runs.push(write_run(work, runs.len(), &arena, &starts)?);
            }
            drop((arena, starts));
            merge(&runs, &mut order)?;
        }
        report.runs = runs.len();
        order.finish()?;
        Ok(ds.rows())
    }

    /// The first `k` rows of the order, through a heap; zones whose best first key cannot
    /// beat the k-th held are skipped.
    fn top_k(
        &self,
        ds: &Dataset,
        columns: &[KeyView<'_>],
        k: u64,
        perm: &Path,
        report: &mut SortReport,
    ) -> Result<u64> {
        let k = usize::try_from(k.min(ds.rows())).map_err(|e| Error::internal(e.to_string()))?;
        let maps = ZoneMaps::open(ds)?;
        let first = &self.keys[0];
        let mut heap: BinaryHeap<Vec<u8>> = BinaryHeap::with_capacity(k + 1);
        let mut key = Vec::new();
        // The best first key each zone may hold, encoded; zones are read most promising
        // first (those the zone maps cannot tell about before all), so that the heap soon
        // holds keys few zones can beat. The result does not depend on the order: keys are
        // unique.
        let mut zones: Vec<(Option<Vec<u8>>, u64)> = (0..maps.zones())
            .map(|z| {
                let best = match maps.extreme(&first.column, z, first.descending) {
                    Some(Extreme::Missing) => Some(KeyValue::Null),
                    Some(Extreme::Value(Num::I(i))) => Some(KeyValue::Int(i)),
                    Some(Extreme::Value(Num::F(f))) => Some(KeyValue::Float(f)),
                    None => None,
                };
                let best = best.map(|b| {
                    let mut bytes = Vec::new();
                    encode(b, first.descending, &mut bytes);
                    bytes
                });
                (best, z)
            })
            .collect();
        zones.sort();
        for (best, z) in zones {
            if heap.len() == k
                && let (Some(top), Some(b)) = (heap.peek(), &best)
                && b.as_slice() > &top[..b.len().min(top.len())]
            {
                report.zones_skipped += 1;
                continue;
            }
            let start = z * maps.zone_rows();
            let end = (start + maps.zone_rows()).min(ds.rows());
            for row in start..end {
                key.clear();
                let row = usize::try_from(row).map_err(|e| Error::internal(e.to_string()))?;
                Self::key(columns, row, &mut key)?;
                if heap.len() < k {
                    heap.push(key.clone());
                } else if heap.peek().is_some_and(|top| key < *top) {
                    heap.pop();
                    heap.push(key.clone());
                }
            }
        }
        let mut order = Order::create(perm)?;
        for key in heap.into_sorted_vec() {
            order.push(row_of(&key))?;
        }
        order.finish()?;
        Ok(k as u64)
    }
}

/// The row number at the end of a key.
fn row_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[key.len().saturating_sub(8)..]);
    u64::from_be_bytes(b)
}

/// The keys of an arena in order.
fn sorted<'a>(arena: &'a [u8], starts: &[usize]) -> Vec<&'a [u8]> {
    let mut keys: Vec<&[u8]> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| &arena[s..starts.get(i + 1).copied().unwrap_or(arena.len())])
        .collect();
    // Keys end with their row number: no two are equal, so an unstable sort is stable.
    keys.sort_unstable();
    keys
}

/// Writes the keys of an arena, sorted, as run `n`: each key as its length (u32 LE) and its
/// bytes.
fn write_run(work: &Path, n: usize, arena: &[u8], starts: &[usize]) -> Result<PathBuf> {
    let path = work.join(format!("run-{n}"));
    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    for k in sorted(arena, starts) {
        let len = u32::try_from(k.len()).map_err(|e| Error::internal(e.to_string()))?;
        w.write_all(&len.to_le_bytes())
            .and_then(|()| w.write_all(k))
            .map_err(|e| Error::io(&path, e))?;
    }
    w.flush().map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// The next key of a run, or `None` at its end.
fn next_key(r: &mut BufReader<File>, path: &Path) -> Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    }
    let mut key = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut key).map_err(|e| Error::io(path, e))?;
    Ok(Some(key))
}

/// Merges sorted runs into `order`, holding one key per run.
fn merge(runs: &[PathBuf], order: &mut Order) -> Result<()> {
    let mut readers = runs
        .iter()
        .map(|p| {
            File::open(p)
                .map(|f| BufReader::with_capacity(256 << 10, f))
                .map_err(|e| Error::io(p, e))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(k) = next_key(r, &runs[i])? {
            heap.push(std::cmp::Reverse((k, i)));
        }
    }
    while let Some(std::cmp::Reverse((k, i))) = heap.pop() {
        order.push(row_of(&k))?;
        if let Some(k) = next_key(&mut readers[i], &runs[i])? {
            heap.push(std::cmp::Reverse((k, i)));
        }
    }
    Ok(())
}

/// The order being written: row numbers, u64 LE, one after another.
struct Order {
    path: PathBuf,
    w: BufWriter<File>,
}

impl Order {
    fn create(path: &Path) -> Result<Order> {
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(Order { path: path.to_path_buf(), w: BufWriter::with_capacity(1 << 20, f) })
    }

    fn push(&mut self, row: u64) -> Result<()> {
        self.w.write_all(&row.to_le_bytes()).map_err(|e| Error::io(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Reads an order file written by [`Order`], in blocks.
pub(crate) struct OrderReader {
    path: PathBuf,
    r: BufReader<File>,
}

impl OrderReader {
    pub(crate) fn open(path: &Path) -> Result<OrderReader> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(OrderReader { path: path.to_path_buf(), r: BufReader::with_capacity(1 << 20, f) })
    }

    /// Up to `n` next row numbers into `out` (cleared first); empty at the end.
    pub(crate) fn next_block(&mut self, n: usize, out: &mut Vec<usize>) -> Result<()> {
        out.clear();
        let mut b = [0u8; 8];
        while out.len() < n {
            match self.r.read_exact(&mut b) {
                Ok(()) => out.push(
                    usize::try_from(u64::from_le_bytes(b))
                        .map_err(|e| Error::internal(e.to_string()))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        Ok(())
    }
}
