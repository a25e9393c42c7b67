//! Statistics of `datetime64` and `timedelta64` arrays: what pandas' `describe()` gives for
//! datetimes — count, mean, min and max as timestamps. A sum of timestamps means nothing, so
//! there is none, and neither a standard deviation nor a variance (pandas' `describe()` of
//! datetimes leaves them out too). Durations add their sum; both skip `NaT` as pandas does,
//! never counting it as the 64-bit integer `-2^63` that stores it.

use serde::Serialize;

use super::stats::Number;
use super::tree_reduce;
use crate::dtype::TimeUnit;
use crate::error::Result;
use crate::store::ChunkSource;

/// `NaT`, numpy's missing datetime.
const NAT: i64 = i64::MIN;

/// Statistics of a `datetime64` array, `NaT` and missing values skipped as pandas skips them.
/// Times are [`Number::DateTime`] values, printed in ISO 8601 in the array's unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DateTimeSummary {
    /// numpy's name for the element type: `datetime64[s]`, `datetime64[ms]`, ….
    pub dtype: String,
    /// Elements that are neither `NaT` nor missing.
    pub count: u64,
    /// The mean, computed exactly and truncated toward zero to the unit, as pandas truncates
    /// it; `None` with no elements.
    pub mean: Option<Number>,
    /// The earliest time; `None` with no elements.
    pub min: Option<Number>,
    /// The latest time; `None` with no elements.
    pub max: Option<Number>,
    /// `NaT` elements.
    pub nat_count: u64,
    /// Missing elements of a dataset column with a validity file; `None` (and left out of the
    /// JSON) for an array without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_count: Option<u64>,
}

/// Count, sum (exact), min and max of the values that are not `NaT`, and the `NaT` count.
#[derive(Clone, Copy, Debug, Default)]
struct Part {
    n: u64,
    nat: u64,
    sum: i128,
    min: i64,
    max: i64,
}

impl Part {
    /// The mean truncated toward zero (0 with no values). The mean of 64-bit values lies
    /// between them, so it fits.
    fn mean(&self) -> i64 {
        if self.n == 0 { 0 } else { i64::try_from(self.sum / i128::from(self.n)).unwrap_or(NAT) }
    }

    fn merge(a: Part, b: Part) -> Part {
        let (min, max) = match (a.n, b.n) {
            (0, _) => (b.min, b.max),
            (_, 0) => (a.min, a.max),
            _ => (a.min.min(b.min), a.max.max(b.max)),
        };
        Part { n: a.n + b.n, nat: a.nat + b.nat, sum: a.sum + b.sum, min, max }
    }
}

/// Statistics of a `timedelta64` array, `NaT` and missing values skipped as pandas skips them.
/// Every value is a count of the array's unit (an integer in JSON; `larder stats` prints it as
/// numpy prints a `timedelta64` scalar, `7 seconds`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeDeltaSummary {
    /// numpy's name for the element type: `timedelta64[s]`, `timedelta64[ms]`, ….
    pub dtype: String,
    /// The unit every value counts (left out of the JSON: `dtype` names it).
    #[serde(skip)]
    pub unit: TimeUnit,
    /// Elements that are neither `NaT` nor missing.
    pub count: u64,
    /// The exact sum, in the unit; 0 with no elements (as numpy's `nansum`).
    pub sum: i128,
    /// The mean, computed exactly and truncated toward zero to the unit, as pandas truncates
    /// it; `None` with no elements.
    pub mean: Option<i64>,
    /// The shortest duration; `None` with no elements.
    pub min: Option<i64>,
    /// The longest duration; `None` with no elements.
    pub max: Option<i64>,
    /// `NaT` elements.
    pub nat_count: u64,
    /// Missing elements of a dataset column with a validity file; `None` (and left out of the
    /// JSON) for an array without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_count: Option<u64>,
}

/// The [`TimeDeltaSummary`] of `src`, whose `i64` values are `timedelta64[unit]` values; as
/// [`datetime_summary`].
///
/// # Errors
/// As the source's reads.
pub fn timedelta_summary<S: ChunkSource<i64> + ?Sized>(
    src: &S,
    unit: TimeUnit,
) -> Result<TimeDeltaSummary> {
    let p = parts(src)?;
    let some = |v: i64| (p.n > 0).then_some(v);
    Ok(TimeDeltaSummary {
        dtype: format!("timedelta64[{}]", unit.as_str()),
        unit,
        count: p.n,
        sum: p.sum,
        mean: some(p.mean()),
        min: some(p.min),
        max: some(p.max),
        nat_count: p.nat,
        null_count: None,
    })
}

/// Count, exact sum, extremes and `NaT` count of `src`'s values. One pass, chunks in parallel,
/// merged along the fixed tree (exact integer arithmetic, so the result does not depend on the
/// number of threads).
fn parts<S: ChunkSource<i64> + ?Sized>(src: &S) -> Result<Part> {
    let leaf = |i: usize| -> Result<Part> {
        let mut p = Part { min: i64::MAX, max: i64::MIN, ..Part::default() };
        src.with_chunk(i, &mut |c: &[i64]| {
            for &v in c {
                if v == NAT {
                    p.nat += 1;
                } else {
                    p.n += 1;
                    p.sum += i128::from(v);
                    p.min = p.min.min(v);
                    p.max = p.max.max(v);
                }
            }
        })?;
        Ok(p)
    };
    Ok(tree_reduce(0, src.num_chunks(), &leaf, &|a, b| Part::merge(a, b))?.unwrap_or_default())
}

/// The [`DateTimeSummary`] of `src`, whose `i64` values are `datetime64[unit]` values. One pass,
/// chunks in parallel, merged along the fixed tree (exact integer arithmetic, so the result
/// does not depend on the number of threads).
///
/// # Errors
/// As the source's reads.
pub fn datetime_summary<S: ChunkSource<i64> + ?Sized>(
    src: &S,
    unit: TimeUnit,
) -> Result<DateTimeSummary> {
    let p = parts(src)?;
    let time = |v: i64| (p.n > 0).then_some(Number::DateTime(v, unit));
    Ok(DateTimeSummary {
        dtype: format!("datetime64[{}]", unit.as_str()),
        count: p.n,
        mean: (p.n > 0).then(|| mean_time(p.sum, p.n, unit)),
        min: time(p.min),
        max: time(p.max),
        nat_count: p.nat,
        null_count: None,
    })
}

/// The mean of `n > 0` times of `unit` summing to `sum`, truncated toward zero as pandas
/// truncates it: to the unit, or for days to the second (pandas holds `datetime64[D]` data as
/// `datetime64[s]`, so the mean of two consecutive days is noon).
pub(crate) fn mean_time(sum: i128, n: u64, unit: TimeUnit) -> Number {
    let (sum, unit) = if unit == TimeUnit::D { (sum * 86_400, TimeUnit::S) } else { (sum, unit) };
    // The mean of 64-bit values lies between them (days as seconds fit too: 2^63 days would
    // not be a date).
    let mean = sum / i128::from(n.max(1));
    i64::try_from(mean).map_or(Number::Int(mean), |v| Number::DateTime(v, unit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SliceChunks;

    #[test]
    fn mean_truncates_toward_zero_as_pandas_and_nat_is_skipped() {
        for (values, mean) in
            [(&[0, 1][..], 0), (&[0, 3], 1), (&[-1, 0], 0), (&[-3, 0], -1), (&[NAT, 4, 6], 5)]
        {
            let s = datetime_summary(&SliceChunks::new(values, 2), TimeUnit::S).unwrap();
            assert_eq!(s.mean, Some(Number::DateTime(mean, TimeUnit::S)), "{values:?}");
        }
        let s = datetime_summary(&SliceChunks::new(&[NAT, 86_400, -5], 1), TimeUnit::S).unwrap();
        assert_eq!((s.count, s.nat_count), (2, 1));
        assert_eq!(s.min, Some(Number::DateTime(-5, TimeUnit::S)));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["max"], "1970-01-02T00:00:00");
        assert_eq!(json["min"], "1969-12-31T23:59:55");
        assert!(json.get("sum").is_none() && json.get("std").is_none());
        // Days: pandas' mean of 2024-01-01 and 2024-01-02 is 2024-01-01 12:00, and of
        // 1969-12-30 and 1969-12-31 is 1969-12-30 12:00 (toward zero, in seconds).
        for (days, want) in [
            (&[19_723, 19_724][..], "2024-01-01T12:00:00"),
            (&[-2, -1], "1969-12-30T12:00:00"),
            (&[0, 0, 1], "1970-01-01T08:00:00"),
            (&[-1, 0, 0], "1969-12-31T16:00:00"),
        ] {
            let s = datetime_summary(&SliceChunks::new(days, 2), TimeUnit::D).unwrap();
            assert_eq!(serde_json::to_value(&s).unwrap()["mean"], want, "{days:?}");
            assert_eq!(serde_json::to_value(&s).unwrap()["min"].as_str().map(str::len), Some(10));
        }
        let empty = datetime_summary(&SliceChunks::new(&[NAT], 1), TimeUnit::Ms).unwrap();
        assert_eq!((empty.count, empty.mean, empty.min), (0, None, None));
    }

    #[test]
    fn durations_skip_nat_and_sum_exactly_in_their_unit() {
        let s = timedelta_summary(&SliceChunks::new(&[1, 2, NAT, 4], 3), TimeUnit::S).unwrap();
        assert_eq!((s.count, s.nat_count, s.sum), (3, 1, 7));
        assert_eq!((s.mean, s.min, s.max), (Some(2), Some(1), Some(4)));
        assert_eq!(s.dtype, "timedelta64[s]");
        // Sums past i64 stay exact; negative means truncate toward zero as pandas'.
        let big = [i64::MAX, i64::MAX, -3, NAT];
        let s = timedelta_summary(&SliceChunks::new(&big, 1), TimeUnit::Ns).unwrap();
        assert_eq!(s.sum, 2 * i128::from(i64::MAX) - 3);
        let s = timedelta_summary(&SliceChunks::new(&[-3, 0], 2), TimeUnit::H).unwrap();
        assert_eq!((s.mean, s.min), (Some(-1), Some(-3)));
        let none = timedelta_summary(&SliceChunks::new(&[NAT, NAT], 1), TimeUnit::D).unwrap();
        assert_eq!((none.count, none.sum, none.mean, none.nat_count), (0, 0, None, 2));
    }
}
