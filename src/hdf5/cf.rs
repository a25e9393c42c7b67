//! How an HDF5 dataset says its `int64` values are `datetime64[unit]` times: the CF
//! conventions' attributes, which xarray and netCDF readers decode, since hdf5-metno cannot make
//! the opaque type h5py tags `NUMPY:<M8[unit]`.
//!
//! `units = "seconds since 1970-01-01T00:00:00"` and `calendar = "proleptic_gregorian"` (the
//! calendar numpy's datetime64 uses). Both names and the epoch must be exactly these for larder
//! to read the values back as times: another epoch or calendar is left as plain integers.

use crate::dtype::TimeUnit;

/// The attribute naming the unit and epoch.
pub(super) const UNITS: &str = "units";
/// The attribute naming the calendar.
pub(super) const CALENDAR: &str = "calendar";
/// The calendar of numpy's `datetime64`.
pub(super) const PROLEPTIC: &str = "proleptic_gregorian";

const NAMES: [(TimeUnit, &str); 7] = [
    (TimeUnit::D, "days"),
    (TimeUnit::H, "hours"),
    (TimeUnit::M, "minutes"),
    (TimeUnit::S, "seconds"),
    (TimeUnit::Ms, "milliseconds"),
    (TimeUnit::Us, "microseconds"),
    (TimeUnit::Ns, "nanoseconds"),
];

/// The `units` attribute of `datetime64[unit]` values.
pub(super) fn units(unit: TimeUnit) -> String {
    let name = NAMES.iter().find(|(u, _)| *u == unit).map_or("seconds", |(_, n)| n);
    format!("{name} since 1970-01-01T00:00:00")
}

/// The unit that `units` and `calendar` declare, if they are what [`units`] and [`PROLEPTIC`]
/// write (the epoch also as `1970-01-01`, `1970-01-01 00:00:00`, with or without `Z`).
pub(super) fn unit_of(units: &str, calendar: Option<&str>) -> Option<TimeUnit> {
    if calendar != Some(PROLEPTIC) {
        return None;
    }
    let (name, epoch) = units.trim().split_once(" since ")?;
    let epoch = epoch.trim().trim_end_matches('Z');
    if !matches!(epoch, "1970-01-01" | "1970-01-01T00:00:00" | "1970-01-01 00:00:00") {
        return None;
    }
    NAMES.iter().find(|(_, n)| *n == name.trim()).map(|(u, _)| *u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_back_and_other_epochs_or_calendars_do_not() {
        for (u, _) in NAMES {
            assert_eq!(unit_of(&units(u), Some(PROLEPTIC)), Some(u));
        }
        assert_eq!(unit_of("hours since 1970-01-01 00:00:00Z", Some(PROLEPTIC)), Some(TimeUnit::H));
        assert_eq!(unit_of("seconds since 2000-01-01", Some(PROLEPTIC)), None);
        assert_eq!(unit_of("seconds since 1970-01-01", Some("standard")), None);
        assert_eq!(unit_of("seconds since 1970-01-01", None), None);
        assert_eq!(unit_of("fortnights since 1970-01-01", Some(PROLEPTIC)), None);
    }
}
