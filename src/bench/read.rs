//! `larder bench read`: timed reads of an array that already exists, for the peer benchmarks.
//!
//! The peer harness (`benches/peers/`) writes one Zarr array and one HDF5 dataset with
//! zarr-python and h5py and has every tool read those very files, so the sums can be checked
//! equal: [`read_all`] reads the whole array into memory and sums it (what `z[:].sum()` does),
//! [`read_slices`] reads short contiguous slices at given offsets and sums them
//! (`z[s:s + len].sum()` in a loop). Both time the reading alone, after the array is open.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use larder::read_npy;
use larder::{DynStore, open_as};
use larder::{Error, Region, Result};

/// What [`read_all`] measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ReadAll {
    /// Elements read.
    pub(crate) count: u64,
    /// Their sum.
    pub(crate) sum: f64,
    /// Seconds to read them all into memory and sum them.
    pub(crate) seconds: f64,
}

/// What [`read_slices`] measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ReadSlices {
    /// Slices read.
    pub(crate) reads: u64,
    /// Elements read, all slices together.
    pub(crate) elements: u64,
    /// The sum of every element read.
    pub(crate) sum: f64,
    /// Seconds for the whole loop of reads.
    pub(crate) seconds: f64,
}

fn open_1d(path: &Path) -> Result<(DynStore<f64>, usize)> {
    let store = open_as::<f64>(path)?;
    match store.shape() {
        [n] => {
            let n = *n;
            Ok((store, n))
        }
        shape => Err(Error::argument(format!(
            "{}: bench read needs a 1-d float64 array, found shape {shape:?}",
            path.display()
        ))),
    }
}

/// Reads the whole 1-d float64 array at `path` (`.npy`, Zarr, or `FILE.h5:/dataset`) into
/// memory and sums it.
///
/// # Errors
/// The errors of [`open_as`] and of the backend's reads; [`Error::Argument`] for an array that
/// is not 1-d.
pub(crate) fn read_all(path: impl AsRef<Path>) -> Result<ReadAll> {
    let path = path.as_ref();
    let (store, n) = open_1d(path)?;
    let t = Instant::now();
    let data = store.read_region(&Region::whole(&[n]))?;
    let sum = data.sum();
    let seconds = t.elapsed().as_secs_f64();
    Ok(ReadAll { count: n as u64, sum, seconds })
}

/// Reads `len` contiguous elements at each start offset listed in `offsets` (a 1-d integer
/// `.npy`) from the 1-d float64 array at `path`, one read after the other, and sums them.
///
/// # Errors
/// The errors of [`open_as`], of reading `offsets` and of the backend's reads;
/// [`Error::Argument`] for an array that is not 1-d, `len` 0, or an offset whose slice does not
/// fit in the array (naming the offsets file and the offset's index).
pub(crate) fn read_slices(
    path: impl AsRef<Path>,
    offsets: impl AsRef<Path>,
    len: usize,
) -> Result<ReadSlices> {
    let (path, offsets) = (path.as_ref(), offsets.as_ref());
    let (store, n) = open_1d(path)?;
    if len == 0 {
        return Err(Error::argument("bench read: --len must be at least 1"));
    }
    let starts = read_npy::<i64>(offsets)?;
    let mut checked = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let start = usize::try_from(s).ok().filter(|&s| s.checked_add(len).is_some_and(|e| e <= n));
        checked.push(start.ok_or_else(|| {
            Error::argument(format!(
                "{}: offset {s} (index {i}) + length {len} does not fit in {} elements of {}",
                offsets.display(),
                n,
                path.display()
            ))
        })?);
    }
    let t = Instant::now();
    let mut sum = 0.0;
    for &s in &checked {
        sum += store.read_region(&Region::new(&[s], &[len])?)?.sum();
    }
    let seconds = t.elapsed().as_secs_f64();
    Ok(ReadSlices {
        reads: checked.len() as u64,
        elements: (checked.len() * len) as u64,
        sum,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use larder::write_npy;
    use ndarray::{Array1, ArrayD};

    #[allow(clippy::cast_precision_loss)]
    fn array(dir: &Path, n: usize) -> std::path::PathBuf {
        let p = dir.join("a.npy");
        let a: ArrayD<f64> = Array1::from_shape_fn(n, |i| i as f64).into_dyn();
        write_npy(&p, &a).unwrap();
        p
    }

    fn offsets(dir: &Path, v: &[i64]) -> std::path::PathBuf {
        let p = dir.join("offs.npy");
        write_npy(&p, &Array1::from(v.to_vec()).into_dyn()).unwrap();
        p
    }

    #[test]
    fn whole_read_counts_and_sums_every_element() {
        let d = tempfile::tempdir().unwrap();
        let r = read_all(array(d.path(), 1000)).unwrap();
        assert_eq!(r.count, 1000);
        assert_eq!(r.sum, 499_500.0);
    }

    #[test]
    fn slices_sum_exactly_the_elements_at_the_offsets() {
        let d = tempfile::tempdir().unwrap();
        let a = array(d.path(), 1000);
        let r = read_slices(&a, offsets(d.path(), &[0, 10, 995]), 5).unwrap();
        assert_eq!((r.reads, r.elements), (3, 15));
        // 0..5, 10..15, 995..1000
        assert_eq!(r.sum, 10.0 + 60.0 + 4985.0);
    }

    #[test]
    fn slices_past_the_end_or_negative_are_refused_with_the_offset_named() {
        let d = tempfile::tempdir().unwrap();
        let a = array(d.path(), 1000);
        for bad in [996, -1] {
            let e = read_slices(&a, offsets(d.path(), &[0, bad]), 5).unwrap_err().to_string();
            assert!(
                e.contains(&format!("offset {bad} (index 1)")) && e.contains("offs.npy"),
                "{e}"
            );
        }
        assert!(read_slices(&a, offsets(d.path(), &[0]), 0).is_err());
    }
}
