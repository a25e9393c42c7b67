//! Sorted indexes ([`crate::zones::sorted`]): built with the external merge sort's runs, so in
//! the sort's memory budget, and read back as a sort order so that `sort` by an indexed
//! column gathers through it instead of sorting.

use std::path::Path;

use super::{Order, OrderReader, SortKey, SortOptions, write};
use crate::dataset::{Column, Dataset};
use crate::dtype::ElementType;
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;
use crate::npy::NpyWriter;
use crate::zones::ZONES_DIR;
use crate::zones::sorted::{self, SortedEntry, SortedIndex};

/// Positions of an index read at a time.
const BLOCK: u64 = 64 << 10;

/// What [`build_sorted_index`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortedIndexReport {
    /// The column indexed.
    pub column: String,
    /// Rows in the index.
    pub rows: u64,
    /// Rows holding a value (the others are missing or NaN).
    pub values: u64,
    /// Sorted runs written to disk (0 when the keys fit the memory budget).
    pub runs: usize,
    /// Bytes of the index's two files.
    pub bytes: u64,
}

/// Builds the sorted index of `column` of the dataset in `dir`: `zones/COL.sorted-rows.npy`
/// (the row numbers in the column's order, `int64`) and `zones/COL.sorted-keys.npy` (the
/// values in that order, of the column's dtype), listed in `zones/sorted.json` and replacing
/// any index of the column there was. The order is `sort`'s ascending one: values ascending,
/// equal values in row order, missing values and NaN last in row order. Memory stays within
/// `memory` bytes of keys (as [`SortOptions::memory`]); sorted runs go to a work directory in
/// `zones/`, removed after.
///
/// # Errors
/// [`Error::Argument`] for an unknown column or one of strings or categories;
/// [`Error::Invalid`] when the column's files change while it is indexed; as
/// [`Dataset::open`]; [`Error::Io`] reading or writing.
pub fn build_sorted_index(dir: &Path, column: &str, memory: usize) -> Result<SortedIndexReport> {
    let ds = Dataset::open(dir)?;
    let c = ds.column(column)?;
    sorted::check_indexable(&c)?;
    let tie = sorted::column_tie(&ds, &c)?;
    let zdir = dir.join(ZONES_DIR);
    std::fs::create_dir_all(&zdir).map_err(|e| Error::io(&zdir, e))?;
    let (rows_name, keys_name) = sorted::file_names(&c.manifest().file);
    let work = TempGuard::beside(&zdir.join(format!("{rows_name}.work")));
    std::fs::create_dir(work.path()).map_err(|e| Error::io(work.path(), e))?;
    let order = work.path().join("order.u64");
    let mut options =
        SortOptions::new(vec![SortKey { column: column.to_string(), descending: false }]);
    options.memory(memory);
    let runs = options.order_file(&ds, work.path(), &order)?;
    let (rows_tmp, keys_tmp) = (work.path().join(&rows_name), work.path().join(&keys_name));
    let mut w = NpyWriter::<i64>::create(&rows_tmp, &[])?;
    let mut r = OrderReader::open(&order)?;
    let mut block = Vec::new();
    loop {
        crate::sys::check_interrupt()?;
        r.next_block(64 << 10, &mut block)?;
        if block.is_empty() {
            break;
        }
        let rows = block
            .iter()
            .map(|&i| i64::try_from(i).map_err(|e| Error::internal(e.to_string())))
            .collect::<Result<Vec<i64>>>()?;
        w.append(&rows)?;
    }
    w.finish()?;
    macro_rules! keys {
        ($t:ty) => {
            write::gather::<$t>(&c.values::<$t>()?, &order, &keys_tmp)?
        };
    }
    match c.element()? {
        ElementType::Bool => keys!(bool),
        ElementType::I8 => keys!(i8),
        ElementType::I16 => keys!(i16),
        ElementType::I32 => keys!(i32),
        ElementType::I64 => keys!(i64),
        ElementType::U8 => keys!(u8),
        ElementType::U16 => keys!(u16),
        ElementType::U32 => keys!(u32),
        ElementType::U64 => keys!(u64),
        ElementType::F32 => keys!(f32),
        ElementType::F64 => keys!(f64),
        other => return Err(Error::internal(format!("no sorted index for {}", other.name()))),
    }
    let values = ds.rows() - missing(&c)?;
    if sorted::column_tie(&ds, &c)? != tie {
        return Err(Error::invalid(
            c.file(),
            "changed while its sorted index was built; build it again",
        ));
    }
    for name in [&rows_name, &keys_name] {
        let (from, to) = (work.path().join(name), zdir.join(name));
        std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
    }
    let entry = SortedEntry {
        column: column.to_string(),
        dtype: c.manifest().dtype.clone(),
        rows: ds.rows(),
        values,
        tie,
        rows_file: sorted::zone_file_tie(dir, &rows_name)?,
        keys_file: sorted::zone_file_tie(dir, &keys_name)?,
    };
    let bytes = entry.rows_file.len + entry.keys_file.len;
    // A list that does not read any more is replaced: its indexes could not be used anyway.
    let mut list = sorted::read_list(dir).unwrap_or_default();
    list.version = sorted::VERSION;
    list.indexes.retain(|e| e.column != column);
    list.indexes.push(entry);
    sorted::write_list(dir, &list)?;
    drop(work);
    Ok(SortedIndexReport { column: column.to_string(), rows: ds.rows(), values, runs, bytes })
}

/// Removes the sorted index of `column` of the dataset in `dir`: its entry in the list, then
/// its two files. True when there was one.
///
/// # Errors
/// [`Error::Argument`] for an unknown column; as [`Dataset::open`]; [`Error::Io`] writing.
pub fn drop_sorted_index(dir: &Path, column: &str) -> Result<bool> {
    let ds = Dataset::open(dir)?;
    let c = ds.column(column)?;
    let mut list = sorted::read_list(dir).unwrap_or_default();
    list.version = sorted::VERSION;
    let before = list.indexes.len();
    list.indexes.retain(|e| e.column != column);
    let listed = list.indexes.len() != before;
    if listed {
        sorted::write_list(dir, &list)?;
    }
    let zdir = dir.join(ZONES_DIR);
    let (rows_name, keys_name) = sorted::file_names(&c.manifest().file);
    let mut removed = false;
    for name in [rows_name, keys_name] {
        let p = zdir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
    Ok(listed || removed)
}

/// Rows of `c` that are missing or NaN.
fn missing(c: &Column<'_>) -> Result<u64> {
    let validity = c.validity()?;
    let valid = validity.as_ref().map(|v| v.data_bytes()).transpose()?;
    let invalid = |i: usize| valid.is_some_and(|v| v.get(i).is_some_and(|&b| b == 0));
    let n = match c.element()? {
        ElementType::F32 => {
            let a = c.values::<f32>()?;
            let s = a.as_slice()?;
            (0..s.len()).filter(|&i| invalid(i) || s[i].is_nan()).count()
        }
        ElementType::F64 => {
            let a = c.values::<f64>()?;
            let s = a.as_slice()?;
            (0..s.len()).filter(|&i| invalid(i) || s[i].is_nan()).count()
        }
        _ => valid.map_or(0, |v| v.len() - v.iter().map(|&b| usize::from(b != 0)).sum::<usize>()),
    };
    Ok(n as u64)
}

/// Writes the order of `sort --by COL` (`-COL` when `descending`), or its first `limit` rows,
/// from the sorted index `idx` to `perm`; the rows written. Ascending is the index's order;
/// descending takes its runs of equal values from the last, each in row order (a stable
/// sort's order), then the missing values in row order, as a sort would.
pub(super) fn order_from_index(
    idx: &SortedIndex,
    descending: bool,
    limit: Option<u64>,
    perm: &Path,
) -> Result<u64> {
    let want = limit.unwrap_or(u64::MAX).min(idx.rows());
    let mut order = Order::create(perm)?;
    let mut written = 0u64;
    let mut emit = |range: std::ops::Range<u64>, written: &mut u64| -> Result<()> {
        let mut at = range.start;
        while at < range.end && *written < want {
            crate::sys::check_interrupt()?;
            let end = range.end.min(at + BLOCK).min(at + (want - *written));
            for r in idx.rows_at(at..end)? {
                order.push(r)?;
            }
            *written += end - at;
            at = end;
        }
        Ok(())
    };
    if descending {
        let mut end = idx.values();
        while end > 0 && written < want {
            let v = idx.key(end - 1)?;
            let start = idx.position(v, false)?.min(end - 1);
            emit(start..end, &mut written)?;
            end = start;
        }
        emit(idx.values()..idx.rows(), &mut written)?;
    } else {
        emit(0..idx.rows(), &mut written)?;
    }
    order.finish()?;
    Ok(written)
}
