//! How an HDF5 dataset or a Zarr array says its `int64` values are numpy `datetime64[unit]`
//! times or `timedelta64[unit]` durations: the CF conventions' attributes, which xarray and
//! netCDF readers decode (hdf5-metno cannot make the opaque type h5py tags `NUMPY:<M8[unit]`,
//! and larder's dataset groups store datetime columns this way for xarray). One rule for both
//! backends: what larder writes to HDF5 and to a dataset group reads back as the same type.
//!
//! Times: `units = "UNIT since EPOCH"` and `calendar = "proleptic_gregorian"` (the calendar
//! numpy's datetime64 uses, and the one xarray writes for it). larder writes the epoch
//! `1970-01-01T00:00:00`; xarray picks another (`hours since 2024-03-01`, `days since
//! 2000-01-01 00:00:00`), and such values are read shifted to numpy's 1970 epoch ([`CfTime`]:
//! overflow-checked, `NaT` kept). An epoch is a date, optionally with a time of day (`T` or a
//! space between, seconds optional, a fraction allowed) and `Z`, `UTC` or a zero offset; it
//! must fall on a whole number of units from 1970 (`days since 2000-01-01 12:00` does not),
//! or the values are left as plain integers, as they are for another calendar or unit.
//! Durations: `units = "seconds"` (no epoch, no calendar).

use std::path::Path;

use ndarray::{CowArray, IxDyn};

use serde_json::Value;

use crate::dtype::{DType, Element, ElementType, Scalar, Time, TimeUnit};
use crate::error::{Error, Result};

/// The attribute naming the unit (and for times the epoch).
pub(crate) const UNITS: &str = "units";
/// The attribute whose value marks an element as missing.
pub(crate) const FILL_VALUE: &str = "_FillValue";
/// The attribute naming the calendar of times.
pub(crate) const CALENDAR: &str = "calendar";
/// The calendar of numpy's `datetime64`.
pub(crate) const PROLEPTIC: &str = "proleptic_gregorian";

const NAMES: [(TimeUnit, &str); 7] = [
    (TimeUnit::D, "days"),
    (TimeUnit::H, "hours"),
    (TimeUnit::M, "minutes"),
    (TimeUnit::S, "seconds"),
    (TimeUnit::Ms, "milliseconds"),
    (TimeUnit::Us, "microseconds"),
    (TimeUnit::Ns, "nanoseconds"),
];

fn name(unit: TimeUnit) -> &'static str {
    NAMES.iter().find(|(u, _)| *u == unit).map_or("seconds", |(_, n)| n)
}

fn unit(name: &str) -> Option<TimeUnit> {
    NAMES.iter().find(|(_, n)| *n == name.trim()).map(|(u, _)| *u)
}

/// The `units` attribute of `time`'s values.
#[cfg_attr(not(feature = "hdf5"), allow(dead_code))] // only HDF5 writes CF attributes
pub(crate) fn units(time: Time) -> String {
    match time {
        Time::DateTime(u) => format!("{} since 1970-01-01T00:00:00", name(u)),
        Time::TimeDelta(u) => name(u).to_string(),
    }
}

/// A CF time encoding larder reads: the numpy time type, and where the encoding's epoch lies
/// from numpy's (1970-01-01), in the type's unit: a stored value `v` is the time or duration
/// `v + shift` (0 for larder's own attributes and for durations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CfTime {
    /// The numpy type the values decode to.
    pub(crate) time: Time,
    /// Units from 1970-01-01T00:00:00 to the epoch.
    pub(crate) shift: i64,
}

/// The time type that `units` and `calendar` declare, if larder reads them (see the module
/// docs), with the shift of their epoch.
pub(crate) fn parse(units: &str, calendar: Option<&str>) -> Option<CfTime> {
    let Some((name, epoch)) = units.trim().split_once(" since ") else {
        return unit(units).map(|u| CfTime { time: Time::TimeDelta(u), shift: 0 });
    };
    if calendar.map(str::trim) != Some(PROLEPTIC) {
        return None;
    }
    let u = unit(name)?;
    let nanos = epoch_nanos(epoch)?;
    let per = i128::from(u.nanos());
    (nanos % per == 0)
        .then(|| i64::try_from(nanos / per).ok())
        .flatten()
        .map(|shift| CfTime { time: Time::DateTime(u), shift })
}

/// Nanoseconds from 1970-01-01T00:00:00 to a CF epoch (`2000-01-01`, `2000-01-01 06:00`,
/// `2000-01-01T06:00:00.5Z`, `… +00:00`); `None` for a text that is none of these or a
/// non-zero UTC offset.
fn epoch_nanos(epoch: &str) -> Option<i128> {
    let mut text = epoch.trim();
    for zero in ["Z", "UTC", "+00:00", "+0000", "+00", "-00:00"] {
        if let Some(rest) = text.strip_suffix(zero) {
            text = rest.trim_end();
            break;
        }
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (text, None),
    };
    let date: jiff::civil::Date = date.trim().parse().ok()?;
    let time: jiff::civil::Time = match time {
        None | Some("") => jiff::civil::Time::midnight(),
        // An offset other than zero, or anything but digits, `:` and `.`.
        Some(t) if !t.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '.') => return None,
        // `06:00` (CF allows seconds to be left out) or `06:00:00[.fff]`.
        Some(t) if t.len() == 5 => format!("{t}:00").parse().ok()?,
        Some(t) => t.parse().ok()?,
    };
    let at = jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(time)).ok()?;
    Some(at.as_nanosecond())
}

/// `dtype` with the time type its CF `units` and `calendar` attributes declare, when it is a
/// plain `int64` and they declare one (else `dtype` as it is), and the shift its values need
/// (see [`CfTime`]).
pub(crate) fn decoded(dtype: DType, units: Option<&str>, calendar: Option<&str>) -> (DType, i64) {
    if dtype.element() != ElementType::I64 || dtype.time().is_some() {
        return (dtype, 0);
    }
    units
        .and_then(|u| parse(u, calendar))
        .and_then(|c| Some((dtype.with_time(c.time)?, c.shift)))
        .unwrap_or((dtype, 0))
}

/// Whether `v` is the CF fill value `fill` (a JSON number, or for floats `"NaN"` or the
/// base64 bytes xarray writes for NaN): the one rule `stats` and `cat` mark missing values by.
pub(crate) fn is_fill(v: Scalar, fill: &Value) -> bool {
    let float = |x: f64| match fill {
        Value::String(_) => x.is_nan(),
        _ => fill.as_f64() == Some(x),
    };
    match v {
        Scalar::I8(x) => fill.as_i64() == Some(x.into()),
        Scalar::I16(x) => fill.as_i64() == Some(x.into()),
        Scalar::I32(x) => fill.as_i64() == Some(x.into()),
        Scalar::I64(x) => fill.as_i64() == Some(x),
        Scalar::U8(x) => fill.as_u64() == Some(x.into()),
        Scalar::U16(x) => fill.as_u64() == Some(x.into()),
        Scalar::U32(x) => fill.as_u64() == Some(x.into()),
        Scalar::U64(x) => fill.as_u64() == Some(x),
        Scalar::F32(x) => float(x.into()),
        Scalar::F64(x) => float(x),
        _ => false,
    }
}

/// Moves `values` (int64 counts stored against a CF epoch) to numpy's epoch by adding `shift`;
/// `NaT` (−2⁶³) stays `NaT`.
///
/// # Errors
/// The first value that would leave the int64 range, as its index and value.
pub(crate) fn shift_values<T: Element>(values: &mut [T], shift: i64) -> Result<(), String> {
    if shift == 0 || T::TYPE != ElementType::I64 {
        return Ok(());
    }
    for (i, v) in values.iter_mut().enumerate() {
        let Ok(x) = bytemuck::checked::try_cast::<T, i64>(*v) else { continue };
        if x == i64::MIN {
            continue;
        }
        let moved = x.checked_add(shift).filter(|&m| m != i64::MIN).ok_or_else(|| {
            format!("value {x} at {i} is out of numpy's datetime64 range once moved to 1970")
        })?;
        if let Ok(m) = bytemuck::checked::try_cast::<i64, T>(moved) {
            *v = m;
        }
    }
    Ok(())
}

/// `values` read from an array whose CF time epoch is `shift` units after 1970's, moved to
/// numpy's epoch (a copy only when there is a shift to add): what every backend that reads CF
/// times does to a region it read.
///
/// # Errors
/// [`Error::Storage`] naming `path` for a value that leaves numpy's range.
pub(crate) fn shift_epoch<'a, T: Element>(
    values: CowArray<'a, T, IxDyn>,
    shift: i64,
    path: &Path,
) -> Result<CowArray<'a, T, IxDyn>> {
    if shift == 0 {
        return Ok(values);
    }
    let mut owned = values.into_owned();
    let slice = owned
        .as_slice_memory_order_mut()
        .ok_or_else(|| Error::internal("a decoded region is not contiguous"))?;
    shift_values(slice, shift)
        .map_err(|reason| Error::Storage { path: path.to_path_buf(), reason })?;
    Ok(CowArray::from(owned))
}

/// [`shift_values`] over native-order int64 bytes.
///
/// # Errors
/// As [`shift_values`].
pub(crate) fn shift_bytes(bytes: &mut [u8], shift: i64) -> Result<(), String> {
    if shift == 0 {
        return Ok(());
    }
    for (i, b) in bytes.chunks_exact_mut(8).enumerate() {
        let x: i64 = bytemuck::pod_read_unaligned(b);
        if x == i64::MIN {
            continue;
        }
        let moved = x.checked_add(shift).filter(|&m| m != i64::MIN).ok_or_else(|| {
            format!("value {x} at {i} is out of numpy's datetime64 range once moved to 1970")
        })?;
        b.copy_from_slice(bytemuck::bytes_of(&moved));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time type of `units` and `calendar` when their epoch is numpy's own.
    fn time_of(units: &str, calendar: Option<&str>) -> Option<Time> {
        parse(units, calendar).filter(|c| c.shift == 0).map(|c| c.time)
    }

    #[test]
    fn units_read_back_and_other_epochs_or_calendars_do_not() {
        for (u, _) in NAMES {
            for t in [Time::DateTime(u), Time::TimeDelta(u)] {
                let calendar = matches!(t, Time::DateTime(_)).then_some(PROLEPTIC);
                assert_eq!(time_of(&units(t), calendar), Some(t));
            }
        }
        let h = Some(Time::DateTime(TimeUnit::H));
        assert_eq!(time_of("hours since 1970-01-01 00:00:00Z", Some(PROLEPTIC)), h);
        assert_eq!(time_of("seconds since 2000-01-01", Some(PROLEPTIC)), None);
        let p = |u: &str| parse(u, Some(PROLEPTIC)).map(|c| (c.time, c.shift));
        let (d, h, s) = (TimeUnit::D, TimeUnit::H, TimeUnit::S);
        assert_eq!(p("days since 2000-01-01"), Some((Time::DateTime(d), 10957)));
        assert_eq!(p("hours since 2024-03-01 00:00:00"), Some((Time::DateTime(h), 474_792)));
        assert_eq!(p("hours since 1969-12-31T23:00Z"), Some((Time::DateTime(h), -1)));
        assert_eq!(
            p("seconds since 2000-01-01T00:00:01.000"),
            Some((Time::DateTime(s), 946_684_801))
        );
        // Not a whole number of units from 1970, an offset, or not a date: left as integers.
        assert_eq!(p("days since 2000-01-01 12:00"), None);
        assert_eq!(p("hours since 2000-01-01T00:00:00+05:00"), None);
        assert_eq!(p("hours since yesterday"), None);
        assert_eq!(parse("days since 2000-01-01", Some("noleap")), None);
        assert_eq!(time_of("seconds since 1970-01-01", Some("standard")), None);
        assert_eq!(time_of("seconds since 1970-01-01", None), None);
        assert_eq!(time_of("fortnights since 1970-01-01", Some(PROLEPTIC)), None);
        assert_eq!(time_of("metres", None), None);
    }
}

#[cfg(test)]
mod shift_tests {
    use super::*;

    #[test]
    fn shifting_keeps_nat_and_refuses_overflow() {
        let mut v = [0i64, -1, i64::MIN, 5];
        shift_values(&mut v, 10957).unwrap();
        assert_eq!(v, [10957, 10956, i64::MIN, 10962]);
        let mut big = [i64::MAX - 1, 0];
        let e = shift_values(&mut big, 2).unwrap_err();
        assert!(e.contains("at 0"), "{e}");
        let mut low = [i64::MIN + 1];
        assert!(shift_values(&mut low, -1).is_err(), "would become NaT");
        let mut bytes = bytemuck::cast_slice::<i64, u8>(&[1, i64::MIN]).to_vec();
        shift_bytes(&mut bytes, -3).unwrap();
        assert_eq!(bytemuck::pod_read_unaligned::<i64>(&bytes[..8]), -2);
        assert_eq!(bytemuck::pod_read_unaligned::<i64>(&bytes[8..]), i64::MIN);
    }
}
