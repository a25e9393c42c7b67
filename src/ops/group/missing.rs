//! How a column's missing values are stored in a group: a CF `_FillValue` that no present
//! value equals, or, when there is none (or the missing rows' placeholders are not the usual
//! zeros, which a fill value could not give back), the validity as an array of its own.
//!
//! The writer scans the column once to choose ([`choose`]); the reader tells missing rows by
//! [`is_fill`], so both sides share the one rule.

use rayon::prelude::*;
use serde_json::Value;

use super::npyio::NpyIn;
use crate::dtype::ElementType;
use crate::error::Result;

/// The missing-value encoding of one column.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Missing {
    /// Missing rows hold this element (native-order bytes); its CF `_FillValue` attribute.
    Fill(Vec<u8>, Value),
    /// The validity is stored as a `bool` array.
    Mask,
}

/// The CF `_FillValue` of float NaN as xarray reads it from a Zarr v3 attribute: the
/// little-endian bytes of a float64 NaN in base64.
const NAN_ATTRIBUTE: &str = "AAAAAAAA+H8=";

/// The fill values worth trying for `element`, first choice first, with their attributes.
fn candidates(element: ElementType) -> Vec<(Vec<u8>, Value)> {
    macro_rules! int {
        ($t:ty, $($v:expr),*) => {
            vec![$( (<$t>::to_le_bytes($v).to_vec(), Value::from($v)) ),*]
        };
    }
    match element {
        ElementType::I8 => int!(i8, i8::MIN, i8::MAX),
        ElementType::I16 => int!(i16, i16::MIN, i16::MAX),
        ElementType::I32 => int!(i32, i32::MIN, i32::MAX),
        ElementType::I64 => int!(i64, i64::MIN, i64::MAX),
        ElementType::U8 => int!(u8, u8::MAX),
        ElementType::U16 => int!(u16, u16::MAX),
        ElementType::U32 => int!(u32, u32::MAX),
        ElementType::U64 => int!(u64, u64::MAX),
        ElementType::F32 => vec![(f32::NAN.to_le_bytes().to_vec(), Value::from(NAN_ATTRIBUTE))],
        ElementType::F64 => vec![(f64::NAN.to_le_bytes().to_vec(), Value::from(NAN_ATTRIBUTE))],
        _ => Vec::new(),
    }
}

/// True when `elem` (one element's bytes) is the fill value `fill` of `element`: equal bytes,
/// or any NaN for a float NaN fill.
pub(super) fn is_fill(element: ElementType, elem: &[u8], fill: &[u8]) -> bool {
    match element {
        ElementType::F32 => f32::from_le_bytes(elem.try_into().unwrap_or([0; 4])).is_nan(),
        ElementType::F64 => f64::from_le_bytes(elem.try_into().unwrap_or([0; 8])).is_nan(),
        _ => elem == fill,
    }
}

/// Chooses the encoding of a column whose `values` have missing rows where `valid` is false.
/// `codes` is the number of categories of a categorical column (whose codes lie below it).
pub(super) fn choose(
    values: &NpyIn,
    valid: &NpyIn,
    rows_per_block: u64,
    codes: Option<u64>,
) -> Result<Missing> {
    let element = values.dtype.element();
    let mut cands = candidates(element);
    if let Some(n) = codes {
        // A code below the number of categories is a category.
        cands.retain(|(b, _)| {
            let mut v = [0u8; 8];
            v[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(v) >= n
        });
    }
    if cands.is_empty() {
        return Ok(Missing::Mask);
    }
    let size = values.dtype.itemsize();
    let blocks = values.len.div_ceil(rows_per_block.max(1));
    // For each block: which candidates a present value equals, and whether every missing row
    // holds the zero placeholder.
    let scan = (0..blocks)
        .into_par_iter()
        .map(|b| -> Result<(Vec<bool>, bool)> {
            let start = b * rows_per_block;
            let n = rows_per_block.min(values.len - start);
            let v = values.read(start, n)?;
            let ok = valid.read(start, n)?;
            let mut hit = vec![false; cands.len()];
            let mut zeros = true;
            for (elem, &present) in v.chunks_exact(size).zip(&ok) {
                if present != 0 {
                    for (h, (fill, _)) in hit.iter_mut().zip(&cands) {
                        *h |= is_fill(element, elem, fill);
                    }
                } else {
                    zeros &= elem.iter().all(|&x| x == 0);
                }
            }
            Ok((hit, zeros))
        })
        .try_reduce(
            || (vec![false; cands.len()], true),
            |a, b| Ok((a.0.iter().zip(&b.0).map(|(x, y)| *x || *y).collect(), a.1 && b.1)),
        )?;
    let (hit, zeros) = scan;
    if !zeros {
        return Ok(Missing::Mask);
    }
    Ok(cands
        .into_iter()
        .zip(hit)
        .find(|(_, h)| !h)
        .map_or(Missing::Mask, |((fill, attr), _)| Missing::Fill(fill, attr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_fill_takes_any_nan_for_floats_and_exact_bytes_otherwise() {
        let other_nan = f64::from_bits(0x7ff0_0000_0000_0001).to_le_bytes();
        assert!(is_fill(ElementType::F64, &other_nan, &f64::NAN.to_le_bytes()));
        assert!(!is_fill(ElementType::F64, &1.0f64.to_le_bytes(), &f64::NAN.to_le_bytes()));
        assert!(is_fill(ElementType::I16, &i16::MIN.to_le_bytes(), &i16::MIN.to_le_bytes()));
        assert!(!is_fill(ElementType::I16, &0i16.to_le_bytes(), &i16::MIN.to_le_bytes()));
    }
}
