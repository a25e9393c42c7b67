//! The caps no input can push past, each checked here and nowhere else: every backend, operation
//! and the binary call these functions rather than repeating the arithmetic. The list, with the
//! reason for each number, is in `docs/limits.md`.
//!
//! The functions return the reason as a `String`; callers wrap it in the error variant that
//! names their file ([`Error::Format`] for a `.npy` header, [`Error::Storage`] for Zarr or HDF5
//! metadata, [`Error::Argument`] for an option).

use crate::error::{Error, Result};

/// Most axes an array may have: numpy's `NPY_MAXDIMS` (64 since numpy 2; 32 before).
pub const MAX_NDIM: usize = 64;

/// Most bytes one chunk may decode to or be written as (2 GiB, the largest chunk zarr-python's
/// blosc and many codecs accept). A declared chunk larger than the array is clipped to it first.
pub const MAX_CHUNK_BYTES: u64 = 1 << 31;

/// Most bins a histogram may have: 2^22 (4 194 304). Each counting thread keeps a table of
/// `u64` counters padded to a power of two, so this bounds the tables at 32 MiB per thread.
pub const MAX_BINS: usize = 1 << 22;

/// Most inner chunks one shard may hold: 2^24, so its index (16 bytes each) is at most
/// 256 MiB.
pub const MAX_SHARD_CHUNKS: usize = 1 << 24;

/// The number of inner chunks of a shard that holds `per_axis` of them along each axis,
/// checked against [`MAX_SHARD_CHUNKS`].
///
/// # Errors
/// The reason, naming the cap.
pub fn check_shard_chunks(per_axis: &[usize]) -> Result<usize, String> {
    per_axis
        .iter()
        .try_fold(1usize, |a, &n| a.checked_mul(n))
        .filter(|&n| n <= MAX_SHARD_CHUNKS)
        .ok_or_else(|| {
            format!(
                "a shard of {per_axis:?} inner chunks holds more than {MAX_SHARD_CHUNKS}, the                  most one shard may hold"
            )
        })
}

/// Checks the number of axes.
///
/// # Errors
/// The reason, naming [`MAX_NDIM`].
pub fn check_ndim(ndim: usize) -> Result<(), String> {
    if ndim > MAX_NDIM {
        return Err(format!("{ndim} dimensions, more than the {MAX_NDIM} numpy allows"));
    }
    Ok(())
}

/// The number of elements of `shape`, computed in `u128` and checked to fit `u64` and `usize`
/// (so that every later product of the shape's sizes is safe to take in `usize`).
///
/// # Errors
/// The reason, with the shape.
pub fn element_count(shape: &[u64]) -> Result<u64, String> {
    let mut n: u128 = 1;
    for &d in shape {
        n = n.saturating_mul(u128::from(d));
    }
    // An empty array may have huge sizes on its other axes; its count is 0 all the same, but
    // the non-empty axes alone must still be countable, since walks multiply them.
    let nonzero: u128 =
        shape.iter().filter(|&&d| d != 0).fold(1u128, |a, &d| a.saturating_mul(u128::from(d)));
    let cap = u128::from(u64::MAX).min(usize::MAX as u128);
    if n > cap || nonzero > cap {
        return Err(format!(
            "shape {shape:?} holds more elements, so more bytes than a 64-bit size can count"
        ));
    }
    u64::try_from(n).map_err(|_| format!("shape {shape:?} holds too many elements"))
}

/// [`element_count`] for a `usize` shape.
///
/// # Errors
/// As [`element_count`].
pub fn element_count_usize(shape: &[usize]) -> Result<usize, String> {
    let wide: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let n = element_count(&wide)?;
    usize::try_from(n).map_err(|_| format!("shape {shape:?} holds too many elements"))
}

/// Bytes of `shape` elements of `itemsize` bytes, checked in `u128`.
///
/// # Errors
/// The reason, with the shape.
pub fn byte_size(shape: &[usize], itemsize: usize) -> Result<u64, String> {
    let n = element_count_usize(shape)?;
    u64::try_from(n as u128 * itemsize as u128)
        .map_err(|_| format!("shape {shape:?} holds more bytes than a 64-bit size can count"))
}

/// numpy's own size rule for an array it creates or loads (`PyArray_NewFromDescr` in
/// `numpy/_core/src/multiarray/ctors.c`): the itemsize times the product of the axes that are
/// not 0 must fit `npy_intp` (`i64::MAX` on 64-bit), even when another axis is 0 and the array
/// holds nothing. numpy refuses anything else with "array is too big", so larder neither writes
/// nor reads it: shape `(0, 2^63-1)` of `<f8` is out, `(0, 2^60)` of `<f8` is in.
///
/// # Errors
/// The reason, with the shape.
pub fn check_numpy_size(shape: &[usize], itemsize: usize) -> Result<(), String> {
    let bytes = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(itemsize as u128, |a, &d| a.checked_mul(d as u128));
    match bytes {
        Some(b) if b <= i64::MAX as u128 => Ok(()),
        _ => Err(format!(
            "shape {shape:?} of {itemsize}-byte elements: its non-empty axes hold more than \
             2^63-1 bytes, which numpy refuses (\"array is too big\")"
        )),
    }
}

/// `chunk` clipped to `shape` on every axis (an axis of size 0 keeps chunks of 1), so that no
/// buffer is ever sized by a chunk larger than the array it cuts.
pub fn clip_chunk(chunk: &[usize], shape: &[usize]) -> Vec<usize> {
    chunk.iter().zip(shape).map(|(&c, &n)| c.min(n).max(1)).collect()
}

/// Checks that one chunk of `chunk` elements of `itemsize` bytes fits [`MAX_CHUNK_BYTES`].
///
/// # Errors
/// The reason, naming the chunk shape and the cap.
pub fn check_chunk_bytes(chunk: &[usize], itemsize: usize) -> Result<(), String> {
    let too_big = || {
        format!(
            "a chunk of shape {chunk:?} holds more than {MAX_CHUNK_BYTES} bytes, the most one \
             chunk may hold"
        )
    };
    match byte_size(chunk, itemsize) {
        Ok(b) if b <= MAX_CHUNK_BYTES => Ok(()),
        _ => Err(too_big()),
    }
}

/// Checks a histogram's number of bins.
///
/// # Errors
/// [`Error::Argument`] naming [`MAX_BINS`].
pub fn check_bins(bins: usize) -> Result<()> {
    if bins > MAX_BINS {
        return Err(Error::argument(format!(
            "{bins} histogram bins: at most {MAX_BINS} are allowed (their counters are kept per \
             thread)"
        )));
    }
    Ok(())
}

/// Most time buckets a group-by over a datetime column may have: 2^20 (a year of minutes fits,
/// with room). The group-by keeps direct-indexed tables of one slot per bucket for each value
/// column and work item, so this bounds them as `MAX_GROUPS` bounds an integer key.
pub const MAX_TIME_BUCKETS: u64 = 1 << 20;

/// Checks the number of time buckets between the first and last timestamp; `width` names the
/// bucket width in the message.
///
/// # Errors
/// The reason, naming [`MAX_TIME_BUCKETS`].
pub fn check_time_buckets(buckets: u128, width: &str) -> Result<usize, String> {
    match usize::try_from(buckets) {
        Ok(n) if buckets <= u128::from(MAX_TIME_BUCKETS) => Ok(n),
        _ => Err(format!(
            "the timestamps span {buckets} buckets of {width}, more than the \
             {MAX_TIME_BUCKETS} a group-by may have; choose a wider bucket"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpys_size_rule_counts_the_non_empty_axes_with_the_itemsize() {
        let max = i64::MAX as usize;
        assert!(check_numpy_size(&[0, max], 8).is_err());
        assert!(check_numpy_size(&[max, 0], 2).is_err());
        assert!(check_numpy_size(&[0, 1 << 60], 8).is_err());
        assert!(check_numpy_size(&[0, max], 1).is_ok());
        assert!(check_numpy_size(&[0, 1 << 59], 8).is_ok());
        assert!(check_numpy_size(&[3, 0, 1 << 62], 2).is_err());
        assert!(check_numpy_size(&[], 16).is_ok());
        let e = check_numpy_size(&[0, max], 8).unwrap_err();
        assert!(e.contains("numpy refuses"), "{e}");
    }

    #[test]
    fn element_counts_are_checked_past_u64() {
        assert_eq!(element_count(&[3, 4]), Ok(12));
        assert_eq!(element_count(&[]), Ok(1));
        assert!(element_count(&[1 << 32, 1 << 32]).is_err());
        assert!(element_count(&[u64::MAX, 0, u64::MAX]).is_err());
        assert_eq!(element_count(&[u64::MAX, 0]), Ok(0));
    }

    #[test]
    fn chunks_are_clipped_and_capped() {
        assert_eq!(clip_chunk(&[8_589_934_592, 3], &[8, 0]), vec![8, 1]);
        assert!(check_chunk_bytes(&[1 << 20], 8).is_ok());
        assert!(check_chunk_bytes(&[1 << 32, 1 << 32], 8).is_err());
        assert!(check_ndim(64).is_ok() && check_ndim(65).is_err());
    }

    #[test]
    fn time_buckets_are_capped() {
        assert_eq!(check_time_buckets(1 << 20, "1s"), Ok(1 << 20));
        let e = check_time_buckets((1 << 20) + 1, "1s").unwrap_err();
        assert!(e.contains("1048577 buckets of 1s") && e.contains("wider"), "{e}");
    }
}
