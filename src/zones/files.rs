//! `zones/index.json` and the zone files: what ties them to the column files, and loading
//! them with every check (see `docs/format.md`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ColumnZones, Num, ZONES_DIR, ZONES_INDEX, ZoneMaps};
use crate::dataset::{Column, ColumnKind, Dataset};
use crate::dtype::{DType, ElementType, Time};
use crate::error::{Error, Result};
use crate::npy::Header;

/// Layout version of `zones/index.json`.
pub(crate) const VERSION: u32 = 1;

/// `zones/index.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Index {
    pub(crate) version: u32,
    pub(crate) zone_rows: u64,
    /// The dataset's row count the zone maps describe.
    pub(crate) rows: u64,
    pub(crate) columns: Vec<IndexColumn>,
}

/// One column's entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexColumn {
    pub(crate) name: String,
    /// The column's dtype in the manifest.
    pub(crate) dtype: String,
    /// Its number of categories, for a categorical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) categories: Option<u64>,
    /// The column files described: values, then validity.
    pub(crate) tie: Vec<Tie>,
    /// `(zones, 2)` min and max, in the column's dtype.
    pub(crate) min_max: ZoneFile,
    /// `(zones, 2)` `<u4`: missing values, NaN values.
    pub(crate) counts: ZoneFile,
    /// `(zones, bytes)` `|u1`: bitmap of the codes present, bit `k % 8` of byte `k / 8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) codes: Option<ZoneFile>,
}

/// A column file as it was when its zone maps were made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tie {
    pub(crate) file: String,
    pub(crate) len: u64,
    pub(crate) mtime_ns: i128,
    pub(crate) ctime_ns: i128,
    pub(crate) ino: u64,
}

/// A zone file, with what it must hash to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ZoneFile {
    pub(crate) file: String,
    pub(crate) len: u64,
    pub(crate) xxh3: String,
}

/// How a column's statistics compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatKind {
    /// Integers and bools.
    Int,
    Float,
    /// Datetimes: statistics in nanoseconds.
    DateTime,
    /// Categorical codes.
    Codes,
}

/// The tie of the file `name` in `dir` as it is now.
pub(crate) fn tie_of(dir: &Path, name: &str) -> Result<Tie> {
    let path = dir.join(name);
    let m = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    #[cfg(unix)]
    let (mtime_ns, ctime_ns, ino) = {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        (ns(m.mtime(), m.mtime_nsec()), ns(m.ctime(), m.ctime_nsec()), m.ino())
    };
    #[cfg(not(unix))]
    let (mtime_ns, ctime_ns, ino) = {
        let t = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        (t.map_or(0, |d| d.as_nanos() as i128), 0, 0)
    };
    Ok(Tie { file: name.to_string(), len: m.len(), mtime_ns, ctime_ns, ino })
}

/// The files a column's zone maps describe: its values, then its validity.
pub(crate) fn column_files(c: &Column<'_>) -> Vec<String> {
    let m = c.manifest();
    std::iter::once(m.file.clone()).chain(m.valid.clone()).collect()
}

/// The kind of statistics of `c`, `None` for a column without zone maps (strings).
pub(crate) fn stat_kind(c: &Column<'_>) -> Result<Option<StatKind>> {
    Ok(match c.kind() {
        ColumnKind::String => None,
        ColumnKind::Categorical => Some(StatKind::Codes),
        ColumnKind::DateTime => Some(StatKind::DateTime),
        ColumnKind::Bool => Some(StatKind::Int),
        ColumnKind::Number => match c.element()? {
            ElementType::F32 | ElementType::F64 => Some(StatKind::Float),
            e if matches!(e.kind(), 'i' | 'u') => Some(StatKind::Int),
            _ => None,
        },
    })
}

/// Number of categories of a categorical column.
pub(crate) fn category_count(c: &Column<'_>) -> Result<Option<u64>> {
    Ok(c.categories()?.map(|k| k.len() as u64))
}

/// The index in `ds`, if it has one that reads; `Err(reason)` otherwise.
fn read_index(ds: &Dataset) -> std::result::Result<Index, String> {
    let path = ds.path().join(ZONES_DIR).join(ZONES_INDEX);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("the dataset has no zone maps (`larder index` builds them)".into());
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let index: Index = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a zone-map index: {e}", path.display()))?;
    if index.version != VERSION || index.zone_rows == 0 {
        return Err(format!(
            "{}: zone maps of layout {} with {} rows per zone; this larder reads layout \
             {VERSION}",
            path.display(),
            index.version,
            index.zone_rows
        ));
    }
    if index.rows != ds.rows() {
        return Err(format!(
            "the zone maps describe {} rows, the dataset has {} (changed since they were built)",
            index.rows,
            ds.rows()
        ));
    }
    Ok(index)
}

/// Why the files of `entry` do not match those of the column `c`, if they do not.
fn stale(ds: &Dataset, c: &Column<'_>, entry: &IndexColumn) -> Result<Option<String>> {
    let m = c.manifest();
    if entry.dtype != m.dtype {
        return Ok(Some(format!("its dtype is now {}, was {}", m.dtype, entry.dtype)));
    }
    if entry.categories != category_count(c)? {
        return Ok(Some("its categories changed".into()));
    }
    let files = column_files(c);
    if files.len() != entry.tie.len() || files.iter().zip(&entry.tie).any(|(f, t)| *f != t.file) {
        return Ok(Some("its files changed".into()));
    }
    for t in &entry.tie {
        let now = match tie_of(ds.path(), &t.file) {
            Ok(now) => now,
            Err(e) => return Ok(Some(e.to_string())),
        };
        if now != *t {
            let what = if now.len == t.len {
                format!("was written to since (size {}, modified or changed)", now.len)
            } else {
                format!("is {} bytes, was {}", now.len, t.len)
            };
            return Ok(Some(format!("{} {what}", t.file)));
        }
    }
    Ok(None)
}

/// The bytes of zone file `f`, checked against its size and hash.
pub(crate) fn read_zone_file(dir: &Path, f: &ZoneFile) -> std::result::Result<Vec<u8>, String> {
    if !crate::dataset::is_plain_file_name(&f.file) {
        return Err(format!("zone file {:?} is not a plain file name", f.file));
    }
    let path = dir.join(ZONES_DIR).join(&f.file);
    // The size first: a file that is not the one indexed is not read whole.
    let len = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    if len != f.len {
        return Err(format!("{}: {len} bytes, the index says {}", path.display(), f.len));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 != f.len {
        return Err(format!("{}: {} bytes, the index says {}", path.display(), bytes.len(), f.len));
    }
    if hash(&bytes) != f.xxh3 {
        return Err(format!("{}: content does not match its hash in the index", path.display()));
    }
    Ok(bytes)
}

/// XXH3-64 of `bytes`, 16 hex digits.
pub(crate) fn hash(bytes: &[u8]) -> String {
    format!("{:016x}", twox_hash::XxHash3_64::oneshot(bytes))
}

/// The index of `ds` with only the columns whose zone maps match their files; `None` when
/// the dataset has no readable index.
pub(crate) fn current_index(ds: &Dataset) -> Option<Index> {
    let mut index = read_index(ds).ok()?;
    index.columns.retain(|e| {
        ds.column(&e.name).ok().is_some_and(|c| {
            matches!(stale(ds, &c, e), Ok(None))
                && [Some(&e.min_max), Some(&e.counts), e.codes.as_ref()]
                    .into_iter()
                    .flatten()
                    .all(|f| read_zone_file(ds.path(), f).is_ok())
        })
    });
    Some(index)
}

/// Parses an `.npy` zone file of shape `(zones, width)` and dtype `dtype`; the data bytes.
pub(crate) fn zone_data(
    bytes: &[u8],
    dtype: DType,
    zones: usize,
    width: usize,
) -> std::result::Result<&[u8], String> {
    let h = Header::parse(bytes).map_err(|e| e.to_string())?;
    if h.dtype != dtype || h.fortran_order || h.shape != [zones, width] {
        return Err(format!(
            "holds {} {:?}, expected {} {:?}",
            h.dtype.typestr(),
            h.shape,
            dtype.typestr(),
            [zones, width]
        ));
    }
    let need = zones * width * dtype.element().size();
    bytes
        .get(h.data_offset..h.data_offset + need)
        .filter(|d| d.len() == need && bytes.len() == h.data_offset + need)
        .ok_or_else(|| format!("{} data bytes, expected {need}", bytes.len() - h.data_offset))
}

/// An `.npy` file's bytes: header for `(zones, width)` of `dtype`, then `data`.
pub(crate) fn npy_bytes(dtype: DType, zones: usize, width: usize, data: &[u8]) -> Vec<u8> {
    let mut out = Header::new(dtype, &[zones, width], false).to_bytes();
    out.extend_from_slice(data);
    out
}

/// The values of a min/max file's data as numbers.
fn nums(data: &[u8], dtype: DType, kind: StatKind) -> Result<Vec<Num>> {
    macro_rules! each {
        ($t:ty, $conv:expr) => {{
            let size = std::mem::size_of::<$t>();
            data.chunks_exact(size)
                .map(|b| {
                    let v: $t = bytemuck::pod_read_unaligned(b);
                    $conv(v)
                })
                .collect()
        }};
    }
    let scale = match dtype.time() {
        Some(Time::DateTime(u)) if kind == StatKind::DateTime => i128::from(u.nanos()),
        _ => 1,
    };
    Ok(match dtype.element() {
        ElementType::Bool | ElementType::U8 => each!(u8, |v: u8| Num::I(i128::from(v))),
        ElementType::I8 => each!(i8, |v: i8| Num::I(i128::from(v))),
        ElementType::I16 => each!(i16, |v: i16| Num::I(i128::from(v))),
        ElementType::U16 => each!(u16, |v: u16| Num::I(i128::from(v))),
        ElementType::I32 => each!(i32, |v: i32| Num::I(i128::from(v))),
        ElementType::U32 => each!(u32, |v: u32| Num::I(i128::from(v))),
        ElementType::I64 => each!(i64, |v: i64| Num::I(i128::from(v) * scale)),
        ElementType::U64 => each!(u64, |v: u64| Num::I(i128::from(v))),
        ElementType::F32 => each!(f32, |v: f32| Num::F(f64::from(v))),
        ElementType::F64 => each!(f64, Num::F),
        other => return Err(Error::internal(format!("no zone maps for {}", other.name()))),
    })
}

/// One column's zone maps from its entry, checked; `Err(reason)` when they cannot be used.
#[allow(clippy::many_single_char_names)] // c the column, e its entry, as elsewhere here
fn load_column(
    ds: &Dataset,
    c: &Column<'_>,
    e: &IndexColumn,
    zones: usize,
) -> Result<std::result::Result<ColumnZones, String>> {
    if let Some(why) = stale(ds, c, e)? {
        return Ok(Err(why));
    }
    let Some(kind) = stat_kind(c)? else {
        return Ok(Err("a string column has no zone maps".into()));
    };
    let dtype = c.dtype()?;
    let dir = ds.path();
    let checked = (|| {
        let mm_file = read_zone_file(dir, &e.min_max)?;
        let mm = zone_data(&mm_file, dtype, zones, 2)
            .map_err(|w| format!("{}: {w}", e.min_max.file))?
            .to_vec();
        let counts = read_zone_file(dir, &e.counts)?;
        let u4 = DType::native(ElementType::U32);
        let counts =
            zone_data(&counts, u4, zones, 2).map_err(|w| format!("{}: {w}", e.counts.file))?;
        let counts: Vec<u32> =
            counts.chunks_exact(4).map(bytemuck::pod_read_unaligned::<u32>).collect();
        let codes = match (&e.codes, e.categories) {
            (Some(f), Some(n)) => {
                let width = usize::try_from(n.div_ceil(8)).map_err(|e| e.to_string())?;
                let b = read_zone_file(dir, f)?;
                let d = zone_data(&b, DType::native(ElementType::U8), zones, width)
                    .map_err(|w| format!("{}: {w}", f.file))?;
                Some((width, d.to_vec()))
            }
            _ => None,
        };
        Ok::<_, String>((mm, counts, codes))
    })();
    let (mm, counts, codes) = match checked {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };
    let all = nums(&mm, dtype, kind)?;
    let labels = match c.categories()? {
        Some(k) if kind == StatKind::Codes => {
            let mut map = HashMap::new();
            for (i, s) in k.to_vec()?.into_iter().enumerate() {
                map.entry(s).or_insert(i as u64);
            }
            Some(map)
        }
        _ => None,
    };
    Ok(Ok(ColumnZones {
        kind,
        min: all.iter().step_by(2).copied().collect(),
        max: all.iter().skip(1).step_by(2).copied().collect(),
        nulls: counts.iter().step_by(2).copied().collect(),
        nans: counts.iter().skip(1).step_by(2).copied().collect(),
        codes,
        labels,
        scale: match dtype.time() {
            Some(Time::DateTime(u)) => i128::from(u.nanos()),
            _ => 1,
        },
    }))
}

/// [`ZoneMaps::open`].
pub(crate) fn load(ds: &Dataset) -> Result<ZoneMaps> {
    let mut maps = ZoneMaps {
        rows: ds.rows(),
        zone_rows: super::ZONE_ROWS,
        columns: HashMap::new(),
        ignored: Vec::new(),
        layout: HashMap::new(),
    };
    for c in ds.columns() {
        if let Ok(h) = crate::npy::read_header(c.file())
            && c.kind() != ColumnKind::String
        {
            let path: PathBuf = c.file();
            maps.layout.insert(
                c.name().to_string(),
                (path, h.data_offset as u64, h.dtype.element().size() as u64),
            );
        }
    }
    let index = match read_index(ds) {
        Ok(i) => i,
        Err(why) => {
            maps.ignored = ds.columns().map(|c| (c.name().to_string(), why.clone())).collect();
            return Ok(maps);
        }
    };
    maps.zone_rows = index.zone_rows;
    let zones = usize::try_from(maps.zones()).map_err(|e| Error::internal(e.to_string()))?;
    for c in ds.columns() {
        let Some(e) = index.columns.iter().find(|e| e.name == c.name()) else {
            maps.ignored.push((c.name().to_string(), "no zone maps for this column".into()));
            continue;
        };
        match load_column(ds, &c, e, zones)? {
            Ok(z) => {
                maps.columns.insert(c.name().to_string(), z);
            }
            Err(why) => maps.ignored.push((c.name().to_string(), why)),
        }
    }
    Ok(maps)
}
