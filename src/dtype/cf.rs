//! How an HDF5 dataset or a Zarr array says its `int64` values are numpy `datetime64[unit]`
//! times or `timedelta64[unit]` durations: the CF conventions' attributes, which xarray and
//! netCDF readers decode (hdf5-metno cannot make the opaque type h5py tags `NUMPY:<M8[unit]`,
//! and larder's dataset groups store datetime columns this way for xarray). One rule for both
//! backends: what larder writes to HDF5 and to a dataset group reads back as the same type.
//!
//! Times: `units = "seconds since 1970-01-01T00:00:00"` and `calendar = "proleptic_gregorian"`
//! (the calendar numpy's datetime64 uses). Durations: `units = "seconds"` (no epoch, no
//! calendar). The names and the epoch must be exactly these for larder to read the values back
//! as times: another epoch or calendar is left as plain integers.

use crate::dtype::{DType, ElementType, Time, TimeUnit};

/// The attribute naming the unit (and for times the epoch).
pub(crate) const UNITS: &str = "units";
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

/// The time type that `units` and `calendar` declare, if they are what [`units`] and
/// [`PROLEPTIC`] write (the epoch also as `1970-01-01`, `1970-01-01 00:00:00`, with or without
/// `Z`).
pub(crate) fn time_of(units: &str, calendar: Option<&str>) -> Option<Time> {
    let Some((name, epoch)) = units.trim().split_once(" since ") else {
        return unit(units).map(Time::TimeDelta);
    };
    let epoch = epoch.trim().trim_end_matches('Z');
    if calendar != Some(PROLEPTIC)
        || !matches!(epoch, "1970-01-01" | "1970-01-01T00:00:00" | "1970-01-01 00:00:00")
    {
        return None;
    }
    unit(name).map(Time::DateTime)
}

/// `dtype` with the time type its CF `units` and `calendar` attributes declare, when it is a
/// plain `int64` and they declare one (else `dtype` as it is).
pub(crate) fn decoded(dtype: DType, units: Option<&str>, calendar: Option<&str>) -> DType {
    if dtype.element() != ElementType::I64 || dtype.time().is_some() {
        return dtype;
    }
    units.and_then(|u| time_of(u, calendar)).and_then(|t| dtype.with_time(t)).unwrap_or(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(time_of("seconds since 1970-01-01", Some("standard")), None);
        assert_eq!(time_of("seconds since 1970-01-01", None), None);
        assert_eq!(time_of("fortnights since 1970-01-01", Some(PROLEPTIC)), None);
        assert_eq!(time_of("metres", None), None);
    }
}
