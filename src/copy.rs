//! `larder copy`: streaming copies between array files.

use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{Axis, Slice};

use crate::any::{AnyArray, any_dispatch};
use crate::array::MmapArray;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::mmap::Access;
use crate::writer::{NpyWriter, write_npy};

/// Data read per step of a copy; memory use stays near this whatever the array's size.
const BLOCK: usize = 8 << 20;

/// What a copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// Elements copied.
    pub elements: u64,
    /// Size of the file written.
    pub bytes: u64,
}

/// Copies the `.npy` array at `src` to a new `.npy` at `dst` in native byte order and C order,
/// whatever the source's byte order and memory order, streaming a block of rows at a time.
///
/// The copy is written beside `dst` under a temporary name and renamed over it only when it is
/// complete, so a failed copy never leaves a partial `dst` nor damages an existing one.
///
/// # Errors
/// [`Error::Invalid`] if `src` and `dst` are the same file; as [`MmapArray::open`] for `src`;
/// [`Error::Io`] for write errors on `dst`.
pub fn copy(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<CopyReport> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    if same_file(src, dst) {
        return Err(Error::invalid(format!(
            "{} and {} are the same file; copy to a new path",
            src.display(),
            dst.display()
        )));
    }
    let any = AnyArray::open(src)?;
    let tmp = temp_sibling(dst);
    let result = any_dispatch!(&any, a => copy_typed(a, &tmp));
    match result {
        Ok(elements) => {
            fs::rename(&tmp, dst).map_err(|e| Error::io(dst, e))?;
            let bytes = fs::metadata(dst).map_err(|e| Error::io(dst, e))?.len();
            Ok(CopyReport { elements, bytes })
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn copy_typed<T: Element>(a: &MmapArray<T>, dst: &Path) -> Result<u64> {
    let elements = a.len() as u64;
    if a.ndim() == 0 {
        write_npy(dst, &a.read()?)?;
        return Ok(elements);
    }
    let mut w = NpyWriter::<T>::create(dst, &a.shape()[1..])?;
    let (view, swapped) = match a.raw_view() {
        Ok(v) => v,
        // Misaligned source data: a converted copy is the only way to read it.
        Err(Error::NotViewable { .. }) => {
            w.append_rows(&a.read()?)?;
            w.finish()?;
            return Ok(elements);
        }
        Err(e) => return Err(e),
    };
    a.advise(Access::Sequential)?;
    let row_bytes = a.shape()[1..].iter().product::<usize>() * a.dtype().itemsize();
    let rows_per_block = (BLOCK / row_bytes.max(1)).max(1);
    let n = a.shape()[0];
    let c_order_plain = !swapped && view.is_standard_layout();
    let mut buf: Vec<T> = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + rows_per_block).min(n);
        let block = view.slice_axis(Axis(0), Slice::from(start..end));
        if c_order_plain {
            w.append_rows(&block)?;
        } else {
            buf.clear();
            buf.extend(block.iter().map(|&v| if swapped { v.swap_bytes() } else { v }));
            w.append(&buf)?;
        }
        if c_order_plain {
            // The rows just written will not be read again: keep the resident set small.
            a.release(start * row_bytes, (end - start) * row_bytes)?;
        }
        start = end;
    }
    w.finish()?;
    Ok(elements)
}

pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// `dir/.name.larder-tmp-PID`: beside `path`, so the final rename stays on one filesystem.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.larder-tmp-{}", std::process::id()))
}
