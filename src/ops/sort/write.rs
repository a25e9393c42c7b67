//! Writing a dataset's rows in a given order as a new dataset: each column file gathered by
//! the order, block by block, with its validity and string offsets; dictionaries copied.

use std::path::Path;

use super::OrderReader;
use crate::dataset::{ColumnKind, Dataset, MANIFEST, Manifest, Source};
use crate::dtype::{Element, ElementType};
use crate::error::{Error, Result};
use crate::npy::{MmapArray, NpyWriter};

/// Rows gathered at a time.
const BLOCK: usize = 64 << 10;

/// Writes `values` in the order of `order` to `path`, as `dtype`.
pub(super) fn gather<T: Element>(a: &MmapArray<T>, order: &Path, path: &Path) -> Result<()> {
    let values = a.as_slice()?;
    let mut w = NpyWriter::<T>::create_as(path, &[], a.dtype())?;
    let mut r = OrderReader::open(order)?;
    let (mut rows, mut buf) = (Vec::new(), Vec::with_capacity(BLOCK));
    loop {
        r.next_block(BLOCK, &mut rows)?;
        if rows.is_empty() {
            break;
        }
        buf.clear();
        for &i in &rows {
            buf.push(*values.get(i).ok_or_else(|| Error::internal("row past the column"))?);
        }
        w.append(&buf)?;
    }
    w.finish()?;
    Ok(())
}

/// Writes the dataset `ds` with its rows in the order of the file `order` (`rows` of them) as
/// the dataset directory `out`, which exists and is empty but for the work directory.
pub(super) fn dataset(ds: &Dataset, order: &Path, rows: u64, out: &Path) -> Result<()> {
    for c in ds.columns() {
        let m = c.manifest();
        let dst = out.join(&m.file);
        if c.kind() == ColumnKind::String {
            let strings = c.strings()?;
            let s = strings.view()?;
            let offsets = m.offsets.as_ref().ok_or_else(|| Error::internal("no offsets"))?;
            let mut bytes = NpyWriter::<u8>::create(&dst, &[])?;
            let mut offs = NpyWriter::<i64>::create(out.join(offsets), &[])?;
            offs.append(&[0])?;
            let mut r = OrderReader::open(order)?;
            let (mut idx, mut buf, mut ends) = (Vec::new(), Vec::new(), Vec::new());
            let mut at = 0i64;
            loop {
                r.next_block(BLOCK, &mut idx)?;
                if idx.is_empty() {
                    break;
                }
                buf.clear();
                ends.clear();
                for &i in &idx {
                    let v = s.get(i)?.as_bytes();
                    buf.extend_from_slice(v);
                    at += i64::try_from(v.len()).map_err(|e| Error::internal(e.to_string()))?;
                    ends.push(at);
                }
                bytes.append(&buf)?;
                offs.append(&ends)?;
            }
            bytes.finish()?;
            offs.finish()?;
        } else {
            macro_rules! go {
                ($t:ty) => {
                    gather::<$t>(&c.values::<$t>()?, order, &dst)?
                };
            }
            match c.element()? {
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
                other => {
                    return Err(Error::argument(format!(
                        "column {:?}: {} values are not written by sort",
                        c.name(),
                        other.name()
                    )));
                }
            }
        }
        if let (Some(v), Some(name)) = (c.validity()?, &m.valid) {
            gather::<bool>(&v, order, &out.join(name))?;
        }
        if let Some(d) = &m.dictionary {
            for f in [&d.file, &d.offsets] {
                let (from, to) = (ds.path().join(f), out.join(f));
                std::fs::copy(&from, &to).map_err(|e| Error::io(&to, e))?;
            }
        }
    }
    let mut manifest: Manifest = ds.manifest().clone();
    manifest.rows = rows;
    manifest.rejected = 0;
    manifest.rows_read = rows;
    manifest.source = Source { path: ds.path().display().to_string(), ..Source::default() };
    manifest.sources.clear();
    manifest.appends.clear();
    let path = out.join(MANIFEST);
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::internal(e.to_string()))?;
    crate::fsutil::write_bytes_atomically(&path, &text)?;
    // The column files reach the disk before the directory is renamed into place.
    for c in ds.columns() {
        let m = c.manifest();
        let files = std::iter::once(&m.file).chain(&m.valid).chain(&m.offsets);
        for f in files {
            let p = out.join(f);
            std::fs::File::open(&p).and_then(|f| f.sync_all()).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}
