//! Fixed-width time buckets: the key of a group-by over a `datetime64` column.
//!
//! A row's bucket is `(t - t0) / width`, direct-indexed like a categorical code, where `t0` is
//! the start of the first bucket holding a timestamp. Buckets are aligned to the Unix epoch,
//! as pandas' `Series.dt.floor(freq)` aligns them (for widths that divide a day this is also
//! `pd.Grouper(freq=...)`'s default origin, the first day's midnight). Missing values and
//! `NaT` belong to no bucket.

use std::fmt;
use std::str::FromStr;

use super::groupby::{KeyCol, NO_GROUP, ROWS, Typed};
use super::kernel::Reduce;
use super::tree_reduce;
use crate::dtype::{DURATION_UNITS, TimeUnit};
use crate::error::{Error, Result};

/// `NaT`, numpy's missing datetime: the smallest 64-bit integer.
const NAT: i128 = i64::MIN as i128;

/// A bucket width: a positive whole number of nanoseconds, written as numbers with units
/// (`1h`, `15min`, `1h30min`, `500ms`).
///
/// Units: `ns`, `us`, `ms`, `s`, `min` (or `m`), `h`, `d`; pandas' aliases `N`, `U`, `L`,
/// `S`, `T`, `H`, `D` are accepted too. A unit without a number means one of it (`h`). Weeks
/// and months are not fixed widths in pandas (`W` is anchored to Sundays, `M` to month ends),
/// so they are not offered.
///
/// ```
/// use larder::compute::Every;
/// let e: Every = "1h30min".parse()?;
/// assert_eq!(e.nanos(), 5_400_000_000_000);
/// assert_eq!(e.to_string(), "90min");
/// # Ok::<(), larder::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Every {
    nanos: i64,
}

impl Every {
    /// The width in nanoseconds.
    pub const fn nanos(self) -> i64 {
        self.nanos
    }

    /// The width in units of `unit`, for a column of that unit.
    ///
    /// # Errors
    /// The reason, when the width is not a whole number of units (`1h` buckets of a
    /// `datetime64[D]` column).
    pub(crate) fn in_units(self, unit: TimeUnit) -> Result<i64, String> {
        if self.nanos % unit.nanos() != 0 {
            return Err(format!(
                "buckets of {self} are not a whole number of the column's unit ({}); choose a \
                 width that is",
                unit.as_str()
            ));
        }
        Ok(self.nanos / unit.nanos())
    }
}

impl FromStr for Every {
    type Err = Error;
    fn from_str(s: &str) -> Result<Every> {
        let bad = |why: &str| {
            Error::argument(format!(
                "bucket width {s:?}: {why} (e.g. 1s, 15min, 1h, 1d; units ns, us, ms, s, min, \
                 h, d)"
            ))
        };
        let nanos = crate::dtype::parse_duration(s)
            .map_err(|why| bad(if why.contains("292") { "wider than 292 years" } else { &why }))?;
        if nanos == 0 {
            return Err(bad("the width must be positive"));
        }
        Ok(Every { nanos })
    }
}

impl fmt::Display for Every {
    /// The largest unit the width is a whole number of: `90min`, `1d`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (names, per) = DURATION_UNITS
            .iter()
            .rev()
            .find(|(_, per)| self.nanos % per == 0)
            .unwrap_or(&DURATION_UNITS[0]);
        write!(f, "{}{}", self.nanos / per, names[0])
    }
}

/// A datetime key column cut into buckets of `width` units from `t0`.
pub(super) struct BucketKey<'a, T: Reduce> {
    col: Typed<'a, T>,
    t0: i128,
    width: i128,
    groups: usize,
}

impl<T: Reduce> KeyCol for BucketKey<'_, T> {
    fn codes(&self, r0: usize, out: &mut [u32]) -> Result<()> {
        let x = &self.col.data[r0..r0 + out.len()];
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            let v = v.to_i128();
            if v == NAT || !self.col.present(r0 + i) {
                *o = NO_GROUP;
                continue;
            }
            // v >= t0 here; a 64-bit division is several times cheaper than a 128-bit one.
            let d = v - self.t0;
            let g = match (u64::try_from(d), u64::try_from(self.width)) {
                (Ok(d), Ok(w)) => i128::from(d / w),
                _ => d.div_euclid(self.width),
            };
            match u32::try_from(g) {
                Ok(g) if (g as usize) < self.groups => *o = g,
                // Only if the file changed between the range pass and this one.
                _ => {
                    return Err(Error::invalid(
                        self.col.array.path(),
                        format!("row {}: value {v} outside the range first read", r0 + i),
                    ));
                }
            }
        }
        self.col.release(r0, out.len())
    }
}

/// The buckets of a key column: the key, the first bucket's start and the width (both in the
/// column's unit), and the number of buckets from the first timestamp's to the last's.
pub(super) type Buckets<'a> = (Box<dyn KeyCol + 'a>, i128, i128, usize);

/// Cuts `col` into buckets `width` units wide (the column's values are `datetime64` integers);
/// `label` names the width in errors.
pub(super) fn buckets<'a, T: Reduce>(
    col: Typed<'a, T>,
    width: i64,
    label: &str,
) -> Result<Buckets<'a>> {
    let rows = col.data.len();
    let leaf = |b: usize| -> Result<Option<(i128, i128)>> {
        let r0 = b * ROWS;
        let mut range: Option<(i128, i128)> = None;
        for (i, &v) in col.data[r0..(r0 + ROWS).min(rows)].iter().enumerate() {
            let v = v.to_i128();
            if v == NAT || !col.present(r0 + i) {
                continue;
            }
            range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        }
        Ok(range)
    };
    let merge = |a: Option<(i128, i128)>, b: Option<(i128, i128)>| match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (a, b) => a.or(b),
    };
    let width = i128::from(width);
    let range = tree_reduce(0, rows.div_ceil(ROWS), &leaf, &merge)?.flatten();
    let (t0, groups) = match range {
        Some((lo, hi)) => {
            let t0 = lo.div_euclid(width) * width;
            let last = hi.div_euclid(width) * width;
            let n = u128::try_from((last - t0) / width + 1).unwrap_or(u128::MAX);
            let groups = crate::limits::check_time_buckets(n, label)
                .map_err(|e| Error::invalid(col.array.path(), e))?;
            (t0, groups)
        }
        None => (0, 0),
    };
    Ok((Box::new(BucketKey { col, t0, width, groups }), t0, width, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_parse_with_pandas_aliases_and_print_in_their_largest_unit() {
        for (s, nanos, shown) in [
            ("1h", 3_600_000_000_000, "1h"),
            ("H", 3_600_000_000_000, "1h"),
            ("15min", 900_000_000_000, "15min"),
            ("15m", 900_000_000_000, "15min"),
            ("15T", 900_000_000_000, "15min"),
            ("90s", 90_000_000_000, "90s"),
            ("1h30min", 5_400_000_000_000, "90min"),
            ("1d", 86_400_000_000_000, "1d"),
            ("24h", 86_400_000_000_000, "1d"),
            ("500ms", 500_000_000, "500ms"),
            ("2us", 2_000, "2us"),
            ("7ns", 7, "7ns"),
        ] {
            let e: Every = s.parse().unwrap();
            assert_eq!((e.nanos(), e.to_string()), (nanos, shown.to_string()), "{s}");
        }
        for bad in ["", "0h", "1", "1w", "1M", "h1", "99999999999999999999s", "300000d", "1 h"] {
            let e = bad.parse::<Every>().unwrap_err().to_string();
            assert!(e.contains("bucket width"), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_and_widths_print_back(s in "\\PC{0,12}", n in 1i64..100_000, k in 0usize..7) {
            let _ = s.parse::<Every>();
            let e: Every = format!("{n}{}", DURATION_UNITS[k].0[0]).parse().unwrap();
            proptest::prop_assert_eq!(e.to_string().parse::<Every>().unwrap(), e);
        }
    }

    #[test]
    fn widths_must_be_whole_units_of_the_column() {
        let h: Every = "1h".parse().unwrap();
        assert_eq!(h.in_units(TimeUnit::S), Ok(3600));
        assert_eq!(h.in_units(TimeUnit::Ns), Ok(3_600_000_000_000));
        assert!(h.in_units(TimeUnit::D).unwrap_err().contains("whole number"));
    }
}
