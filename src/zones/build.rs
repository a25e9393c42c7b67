//! Computing zone maps from the column files and writing them.

use std::path::Path;

use super::files::{
    self, Index, IndexColumn, StatKind, ZoneFile, column_files, npy_bytes, read_zone_file,
    stat_kind, tie_of, zone_data,
};
use super::{BuildReport, ZONE_ROWS, ZONES_DIR, ZONES_INDEX};
use crate::dataset::{Column, Dataset};
use crate::dtype::{DType, Element, ElementType};
use crate::error::{Error, Result};

/// A value a zone keeps the smallest and largest of.
trait ZoneValue: Element + PartialOrd {
    fn is_nan(self) -> bool {
        false
    }
    /// The min and max of a zone without values.
    fn empty() -> Self {
        Self::default()
    }
    /// As a categorical code.
    fn code(self) -> Option<usize>;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl ZoneValue for $t {
            fn code(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
        }
    )*};
}
int_value!(i8, i16, i32, i64, u8, u16, u32, u64);

impl ZoneValue for bool {
    fn code(self) -> Option<usize> {
        Some(usize::from(self))
    }
}

macro_rules! float_value {
    ($($t:ty),*) => {$(
        impl ZoneValue for $t {
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn empty() -> Self {
                <$t>::NAN
            }
            fn code(self) -> Option<usize> {
                None
            }
        }
    )*};
}
float_value!(f32, f64);

/// The statistics of zones `from..` of one column, as the bytes of its zone files' data.
struct Stats {
    min_max: Vec<u8>,
    counts: Vec<u32>,
    /// Bitmap bytes per zone, and the bitmaps; `None` when the column gets none.
    codes: Option<(usize, Vec<u8>)>,
}

/// The statistics of the zones of `values` (one per row) from zone `from` on.
fn zone_stats<T: ZoneValue>(
    values: &[T],
    valid: Option<&[bool]>,
    from: usize,
    zone_rows: usize,
    width: Option<usize>,
) -> Stats {
    let mut min_max: Vec<T> = Vec::new();
    let mut counts = Vec::new();
    let mut codes = width.map(|w| (w, Vec::new()));
    let mut codes_ok = true;
    let mut start = from * zone_rows;
    while start < values.len() {
        let end = (start + zone_rows).min(values.len());
        let zone = &values[start..end];
        let (mut lo, mut hi): (Option<T>, Option<T>) = (None, None);
        let (mut nulls, mut nans) = (0u32, 0u32);
        let mut bits = codes.as_ref().map(|(w, _)| vec![0u8; *w]);
        let ok = valid.map(|v| &v[start..end]);
        if ok.is_none() && bits.is_none() {
            // The common case, kept branch-light: no missing values, no codes.
            for &v in zone {
                if v.is_nan() {
                    nans += 1;
                } else if let (Some(l), Some(h)) = (lo.as_mut(), hi.as_mut()) {
                    if v < *l {
                        *l = v;
                    }
                    if v > *h {
                        *h = v;
                    }
                } else {
                    (lo, hi) = (Some(v), Some(v));
                }
            }
        } else {
            for (i, &v) in zone.iter().enumerate() {
                if ok.is_some_and(|ok| !ok[i]) {
                    nulls += 1;
                    continue;
                }
                if v.is_nan() {
                    nans += 1;
                    continue;
                }
                if lo.is_none_or(|m| v < m) {
                    lo = Some(v);
                }
                if hi.is_none_or(|m| v > m) {
                    hi = Some(v);
                }
                if let Some(b) = bits.as_mut() {
                    match v.code().filter(|k| k / 8 < b.len()) {
                        Some(k) => b[k / 8] |= 1 << (k % 8),
                        None => codes_ok = false,
                    }
                }
            }
        }
        min_max.push(lo.unwrap_or_else(T::empty));
        min_max.push(hi.unwrap_or_else(T::empty));
        counts.extend([nulls, nans]);
        if let (Some((_, all)), Some(b)) = (codes.as_mut(), bits) {
            all.extend(b);
        }
        start = end;
    }
    Stats {
        min_max: bytemuck::cast_slice::<T, u8>(&min_max).to_vec(),
        counts,
        codes: codes.filter(|_| codes_ok),
    }
}

/// [`zone_stats`] of column `c`, read through its mapping.
fn column_stats(c: &Column<'_>, from: usize, width: Option<usize>) -> Result<Stats> {
    let validity = c.validity()?;
    let valid = validity.as_ref().map(|v| v.as_slice()).transpose()?;
    let z = usize::try_from(ZONE_ROWS).map_err(|e| Error::internal(e.to_string()))?;
    macro_rules! go {
        ($t:ty) => {{
            let a = c.values::<$t>()?;
            zone_stats::<$t>(a.as_slice()?, valid, from, z, width)
        }};
    }
    Ok(match c.element()? {
        ElementType::Bool => go!(bool),
        ElementType::I8 => go!(i8),
        ElementType::I16 => go!(i16),
        ElementType::I32 => go!(i32),
        ElementType::I64 => go!(i64),
        ElementType::U8 => go!(u8),
        ElementType::U16 => go!(u16),
        ElementType::U32 => go!(u32),
        ElementType::U64 => go!(u64),
        ElementType::F32 => go!(f32),
        ElementType::F64 => go!(f64),
        other => return Err(Error::internal(format!("no zone maps for {}", other.name()))),
    })
}

/// Bitmap bytes per zone for a categorical of `categories` categories whose codes take
/// `code_size` bytes: only when that is at most 1/256 of the zone's codes (the size bound).
fn bitmap_width(categories: u64, code_size: usize) -> Option<usize> {
    let width = usize::try_from(categories.div_ceil(8)).ok()?;
    let budget = usize::try_from(ZONE_ROWS).ok()? * code_size / 256;
    (width > 0 && width <= budget).then_some(width)
}

/// Replaces `path` by a file holding `bytes` (a temporary file renamed over it, so a reader
/// sees the old file or the new one), without syncing: zone files need no durability, since
/// one a crash leaves short or stale fails its size or hash check in the index and is ignored.
fn replace_unsynced(path: &Path, bytes: &[u8]) -> Result<u64> {
    let tmp = crate::fsutil::temp_sibling(path);
    let done = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(bytes.len() as u64)
}

/// Writes one zone file; its entry in the index.
fn write_zone_file(dir: &Path, name: String, bytes: &[u8]) -> Result<ZoneFile> {
    let path = dir.join(ZONES_DIR).join(&name);
    let len = replace_unsynced(&path, bytes)?;
    Ok(ZoneFile { file: name, len, xxh3: files::hash(bytes) })
}

/// The first `zones` zones of a zone file of `width` values per zone of `dtype`, widened to
/// `new_width` with zero bytes (a bitmap whose categories grew).
fn kept_prefix(
    dir: &Path,
    f: &ZoneFile,
    dtype: DType,
    old_zones: usize,
    width: usize,
    zones: usize,
    new_width: usize,
) -> std::result::Result<Vec<u8>, String> {
    let bytes = read_zone_file(dir, f)?;
    let data = zone_data(&bytes, dtype, old_zones, width)?;
    let size = dtype.element().size() * width;
    let mut out = Vec::with_capacity(zones * new_width);
    for row in data.chunks_exact(size.max(1)).take(zones) {
        out.extend_from_slice(row);
        out.resize(out.len() + (new_width - width) * dtype.element().size(), 0);
    }
    Ok(out)
}

/// The zone files' data of the zones an append leaves as they were (wholly before its first
/// row; the same dtype, so the same bytes): min/max, counts, code bitmaps.
type Prefix = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// How many zones of `entry` (made for `old_rows` rows) an append keeps, and their data;
/// `(0, None)` when they cannot be read or the bitmap narrowed (then all are computed).
fn kept_zones(
    dir: &Path,
    entry: &IndexColumn,
    old_rows: usize,
    dtype: DType,
    width: Option<usize>,
) -> (usize, Option<Prefix>) {
    let zone = usize::try_from(ZONE_ROWS).unwrap_or(usize::MAX);
    let (keep, old_zones) = (old_rows / zone, old_rows.div_ceil(zone));
    let u4 = DType::native(ElementType::U32);
    let u1 = DType::native(ElementType::U8);
    let min_max = kept_prefix(dir, &entry.min_max, dtype, old_zones, 2, keep, 2);
    let counts = kept_prefix(dir, &entry.counts, u4, old_zones, 2, keep, 2);
    let codes = match (&entry.codes, entry.categories, width) {
        (Some(file), Some(categories), Some(new_width)) => {
            let old_width = usize::try_from(categories.div_ceil(8)).unwrap_or(usize::MAX);
            if old_width <= new_width {
                kept_prefix(dir, file, u1, old_zones, old_width, keep, new_width).map(Some)
            } else {
                Err("narrower bitmap".into())
            }
        }
        (_, _, None) => Ok(None),
        _ => Err("no bitmap before".into()),
    };
    match (min_max, counts, codes) {
        (Ok(min_max), Ok(counts), Ok(codes)) => (keep, Some((min_max, counts, codes))),
        _ => (0, None),
    }
}

/// What building one column's zone maps came to.
enum Outcome {
    Built(Box<IndexColumn>),
    Skipped(String, String),
    /// Not current before an append: left out of the index.
    LeftOut,
}

/// Builds (or extends) the zone maps of column `c` of a dataset of `rows` rows.
fn build_column(
    dir: &Path,
    c: &Column<'_>,
    before: Option<&Index>,
    rows: usize,
    zones: usize,
) -> Result<Outcome> {
    let name = c.name().to_string();
    let Some(kind) = stat_kind(c)? else {
        return Ok(Outcome::Skipped(name, "a string column has no zone maps".into()));
    };
    // Only zone maps current before an append are extended; the others are left out.
    let old = match before {
        Some(b) => match b.columns.iter().find(|e| e.name == name) {
            Some(e) => Some((e, usize::try_from(b.rows).unwrap_or(0))),
            None => return Ok(Outcome::LeftOut),
        },
        None => None,
    };
    let tie = column_files(c).iter().map(|f| tie_of(dir, f)).collect::<Result<Vec<_>>>()?;
    let dtype = c.dtype()?;
    let categories = files::category_count(c)?;
    let width = match (kind, categories) {
        (StatKind::Codes, Some(n)) => bitmap_width(n, dtype.element().size()),
        _ => None,
    };
    let stem = c.manifest().file.strip_suffix(".npy").unwrap_or(&c.manifest().file);
    let (from, prefix) = match old {
        Some((entry, old_rows)) if entry.dtype == c.manifest().dtype && old_rows <= rows => {
            kept_zones(dir, entry, old_rows, dtype, width)
        }
        _ => (0, None),
    };
    let stats = column_stats(c, from, width)?;
    let (mut mm, mut counts, mut codes) = (stats.min_max, stats.counts, stats.codes);
    if let Some((p_mm, p_counts, p_codes)) = prefix {
        mm = [p_mm, mm].concat();
        let p_counts: Vec<u32> =
            p_counts.chunks_exact(4).map(bytemuck::pod_read_unaligned::<u32>).collect();
        counts = [p_counts, counts].concat();
        codes = match (p_codes, codes) {
            (Some(p), Some((w, c))) => Some((w, [p, c].concat())),
            _ => None,
        };
    }
    // The files must not have changed while they were read.
    let after = column_files(c).iter().map(|f| tie_of(dir, f)).collect::<Result<Vec<_>>>()?;
    if after != tie {
        return Ok(Outcome::Skipped(name, "its files changed while it was indexed".into()));
    }
    let u4 = DType::native(ElementType::U32);
    let min_max =
        write_zone_file(dir, format!("{stem}.min-max.npy"), &npy_bytes(dtype, zones, 2, &mm))?;
    let counts = write_zone_file(
        dir,
        format!("{stem}.counts.npy"),
        &npy_bytes(u4, zones, 2, bytemuck::cast_slice(&counts)),
    )?;
    let codes = match codes {
        Some((w, bits)) => Some(write_zone_file(
            dir,
            format!("{stem}.codes.npy"),
            &npy_bytes(DType::native(ElementType::U8), zones, w, &bits),
        )?),
        None => None,
    };
    Ok(Outcome::Built(Box::new(IndexColumn {
        name,
        dtype: c.manifest().dtype.clone(),
        categories: categories.filter(|_| kind == StatKind::Codes),
        tie,
        min_max,
        counts,
        codes,
    })))
}

/// Builds (or, given the index that was current before an append, extends) the zone maps of
/// the dataset in `dir`, columns in parallel.
pub(super) fn build(dir: &Path, before: Option<&Index>) -> Result<BuildReport> {
    use rayon::prelude::*;
    let ds = Dataset::open(dir)?;
    let zdir = dir.join(ZONES_DIR);
    std::fs::create_dir_all(&zdir).map_err(|e| Error::io(&zdir, e))?;
    let zone = usize::try_from(ZONE_ROWS).map_err(|e| Error::internal(e.to_string()))?;
    let rows = usize::try_from(ds.rows()).map_err(|e| Error::internal(e.to_string()))?;
    let zones = rows.div_ceil(zone);
    let mut report = BuildReport { zones: zones as u64, ..BuildReport::default() };
    let mut index = Index {
        version: files::VERSION,
        zone_rows: ZONE_ROWS,
        rows: ds.rows(),
        columns: Vec::new(),
    };
    let columns: Vec<Column<'_>> = ds.columns().collect();
    let outcomes: Vec<Result<Outcome>> =
        columns.par_iter().map(|c| build_column(dir, c, before, rows, zones)).collect();
    for outcome in outcomes {
        match outcome? {
            Outcome::Built(e) => {
                report.bytes +=
                    e.min_max.len + e.counts.len + e.codes.as_ref().map_or(0, |f| f.len);
                report.columns += 1;
                index.columns.push(*e);
            }
            Outcome::Skipped(name, why) => report.skipped.push((name, why)),
            Outcome::LeftOut => {}
        }
    }
    let text = serde_json::to_vec_pretty(&index).map_err(|e| Error::internal(e.to_string()))?;
    let path = zdir.join(ZONES_INDEX);
    report.bytes += replace_unsynced(&path, &text)?;
    // A column file changed later in the same tick of the file system's clock as its last
    // write would keep its times. So the index is rewritten until the clock, as the file
    // system stamps it, has moved past every tied file's change time: then any later write
    // to one shows (`git`'s "racily clean" entries, avoided rather than rechecked).
    let newest = index.columns.iter().flat_map(|c| &c.tie).map(|t| t.ctime_ns).max();
    for _ in 0..500 {
        let now = tie_of(&zdir, ZONES_INDEX)?.mtime_ns;
        if newest.is_none_or(|n| now > n) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        replace_unsynced(&path, &text)?;
    }
    Ok(report)
}
