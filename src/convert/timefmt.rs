//! Timestamps in a layout of the user's (`01/Jan/2024:10:00:00 +0000`), read with a strftime
//! format by `jiff`. ISO 8601 keeps its own fast parser (`value::parse_datetime`); a column
//! with a format uses this one only.
//!
//! Time zones: `%z`/`%:z` give an offset; `%Q` gives an IANA name (`America/New_York`), whose
//! rules from the time zone database turn the local time into UTC, as pandas' `tz_localize`
//! then `tz_convert("UTC")` does. A local time the zone skips (the spring DST gap) or repeats
//! (the autumn fold) is rejected with that reason, as `tz_localize` raises by default, unless
//! the value also carries an offset that picks one. `%Z` abbreviations (`EST`, `CST`, `IST`)
//! name different zones in different places, so a format with `%Z` is refused.

use jiff::fmt::strtime;
use jiff::tz::{AmbiguousOffset, Offset};

use crate::dtype::TimeUnit;
use crate::error::{Error, Result};

use super::value::Reason;

/// A strftime-style format (`%d/%b/%Y:%H:%M:%S %z`, `%d/%m/%Y`) for a `datetime64` column.
///
/// A value with an offset (`%z`, `%:z`) or an IANA time zone (`%Q`) is converted to UTC; a value
/// without either is taken as UTC. A date without a time is midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimeFormat(String);

impl TimeFormat {
    /// Checks `format` by printing a time with it: a directive `jiff` does not know is an error.
    ///
    /// # Errors
    /// [`Error::Argument`] naming the format and the reason.
    pub(crate) fn new(format: &str) -> Result<TimeFormat> {
        if format.is_empty() {
            return Err(Error::argument("a datetime format cannot be empty"));
        }
        strtime::format(format, jiff::Timestamp::UNIX_EPOCH).map_err(|e| {
            Error::argument(format!("datetime format {format:?}: {}", lowercase(&e.to_string())))
        })?;
        if has_directive(format, b'Z') {
            return Err(Error::argument(format!(
                "datetime format {format:?}: %Z time zone abbreviations (EST, CST, IST) are \
                 ambiguous and not read; use %Q for IANA names (America/New_York) or %z for \
                 offsets (-0500)"
            )));
        }
        Ok(TimeFormat(format.to_string()))
    }

    /// Parses `v` (spaces and tabs around it ignored) into units of `unit` since
    /// 1970-01-01T00:00:00 UTC.
    pub(crate) fn parse(&self, v: &[u8], unit: TimeUnit) -> Result<i64, Reason> {
        let v = v.trim_ascii();
        if v.is_empty() {
            return Err(Reason::Missing);
        }
        let not = || Reason::NotInFormat(self.0.clone());
        let tm = strtime::parse(&self.0, v).map_err(|_| not())?;
        let nanos = if tm.timestamp().is_some() {
            tm.to_timestamp().map_err(|_| not())?.as_nanosecond()
        } else if let Some(zone) = tm.iana_time_zone() {
            let dt = tm.to_datetime().map_err(|_| not())?;
            in_zone(jiff::tz::db(), zone, dt, tm.offset(), unit)?.as_nanosecond()
        } else {
            let dt = tm.to_datetime().map_err(|_| not())?;
            let offset = tm.offset().unwrap_or(Offset::UTC);
            offset.to_timestamp(dt).map_err(|_| Reason::TimeOutOfRange(unit))?.as_nanosecond()
        };
        let n = i128::from(unit.nanos());
        if nanos % n != 0 {
            return Err(Reason::FinerThanUnit(unit));
        }
        i64::try_from(nanos / n).ok().filter(|&u| u != i64::MIN).ok_or(Reason::TimeOutOfRange(unit))
    }
}

/// The instant of the local time `dt` in the IANA time zone `zone` of `db`; `offset`, when the
/// value has one too, must be one the zone uses at that time, and picks it in a fold.
fn in_zone(
    db: &jiff::tz::TimeZoneDatabase,
    zone: &str,
    dt: jiff::civil::DateTime,
    offset: Option<Offset>,
    unit: TimeUnit,
) -> Result<jiff::Timestamp, Reason> {
    let tz = db.get(zone).map_err(|_| Reason::TimeZone(format!("unknown time zone {zone:?}")))?;
    let at = |o: Offset| o.to_timestamp(dt).map_err(|_| Reason::TimeOutOfRange(unit));
    let local = || dt.strftime("%Y-%m-%dT%H:%M:%S");
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    let (first, second) = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset: o } => (o, o),
        AmbiguousOffset::Gap { before, after } | AmbiguousOffset::Fold { before, after } => {
            (before, after)
        }
    };
    match (offset, ambiguous.offset()) {
        (Some(o), AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. })
            if o == first || o == second =>
        {
            at(o)
        }
        (Some(o), _) => {
            Err(Reason::TimeZone(format!("offset {o} is not one {zone} uses at {}", local())))
        }
        (None, AmbiguousOffset::Unambiguous { offset: o }) => at(o),
        (None, AmbiguousOffset::Gap { .. }) => Err(Reason::TimeZone(format!(
            "{} does not exist in {zone} (skipped by a daylight saving change)",
            local()
        ))),
        (None, AmbiguousOffset::Fold { .. }) => Err(Reason::TimeZone(format!(
            "{} is ambiguous in {zone} (it happens twice, at {first} and {second}); \
             add the offset (%z) to pick one",
            local()
        ))),
    }
}

/// Whether `format` holds the directive `%<d>` (flags, width and colons allowed between),
/// not counting a literal `%%`.
fn has_directive(format: &str, d: u8) -> bool {
    let mut bytes = format.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            continue;
        }
        for c in bytes.by_ref() {
            if c.is_ascii_alphabetic() || c == b'%' {
                if c == d {
                    return true;
                }
                break;
            }
        }
    }
    false
}

/// `jiff`'s message with its first letter lowercase, as larder's messages are.
fn lowercase(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(format: &str, v: &str) -> Result<i64, Reason> {
        TimeFormat::new(format).unwrap().parse(v.as_bytes(), TimeUnit::S)
    }

    #[test]
    fn formats_read_as_numpy_reads_the_same_instants() {
        // np.datetime64('2024-01-01T10:00:00', 's').astype(int) == 1704103200
        let clf = "%d/%b/%Y:%H:%M:%S %z";
        assert_eq!(secs(clf, "01/Jan/2024:10:00:00 +0000"), Ok(1_704_103_200));
        assert_eq!(secs(clf, " 01/Jan/2024:12:00:00 +0200 "), Ok(1_704_103_200));
        assert_eq!(secs(clf, "01/Jan/2024:05:00:00 -0500"), Ok(1_704_103_200));
        assert_eq!(secs("%d/%m/%Y", "31/12/1969"), Ok(-86_400));
        assert_eq!(secs("%d/%m/%Y %H:%M", "01/01/2024 10:00"), Ok(1_704_103_200));
        assert_eq!(secs("%s", "1704103200"), Ok(1_704_103_200));
        let ms = TimeFormat::new("%Y%m%d %H%M%S%.f").unwrap();
        assert_eq!(ms.parse(b"20240101 100000.250", TimeUnit::Ms), Ok(1_704_103_200_250));
        assert_eq!(
            ms.parse(b"20240101 100000.2501", TimeUnit::Ms),
            Err(Reason::FinerThanUnit(TimeUnit::Ms))
        );
        // A date alone is a whole number of days.
        let d = TimeFormat::new("%d/%m/%Y").unwrap();
        assert_eq!(d.parse(b"02/01/1970", TimeUnit::D), Ok(1));
    }

    #[test]
    fn iana_zones_convert_local_times_to_utc_as_pandas_does() {
        // pd.Timestamp(t).tz_localize(zone).tz_convert("UTC").value // 10**9, pandas 3.1.1,
        // on both sides of each DST change, south of the equator, a half-hour zone and 1965.
        let q = "%Y-%m-%d %H:%M:%S %Q";
        for (local, zone, want) in [
            ("2024-03-10 01:30:00", "America/New_York", 1_710_052_200),
            ("2024-03-10 03:30:00", "America/New_York", 1_710_055_800),
            ("2024-11-03 00:30:00", "America/New_York", 1_730_608_200),
            ("2024-11-03 02:30:00", "America/New_York", 1_730_619_000),
            ("2024-07-01 12:00:00", "Europe/Paris", 1_719_828_000),
            ("2024-03-31 01:59:59", "Europe/Paris", 1_711_846_799),
            ("2024-03-31 03:00:00", "Europe/Paris", 1_711_846_800),
            ("2024-10-27 03:00:00", "Europe/Paris", 1_729_994_400),
            ("2024-04-07 01:30:00", "Australia/Sydney", 1_712_413_800),
            ("2024-04-07 03:30:00", "Australia/Sydney", 1_712_424_600),
            ("2024-10-06 01:30:00", "Australia/Sydney", 1_728_142_200),
            ("2024-10-06 03:30:00", "Australia/Sydney", 1_728_145_800),
            ("2024-01-15 08:00:00", "Asia/Kolkata", 1_705_285_800),
            ("1965-06-01 12:00:00", "Europe/London", -144_680_400),
            ("2024-06-01 12:00:00", "UTC", 1_717_243_200),
        ] {
            assert_eq!(secs(q, &format!("{local} {zone}")), Ok(want), "{local} {zone}");
        }
        // An offset in place of the name (jiff's %Q takes either) is an offset.
        assert_eq!(secs(q, "2024-07-01 12:00:00 +0200"), Ok(1_719_828_000));
    }

    #[test]
    fn the_bundled_database_answers_as_the_system_one() {
        // Where the system has no /usr/share/zoneinfo, jiff falls back to the copy in the binary.
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        assert!(bundled.get("Europe/Paris").is_ok(), "no tzdb bundled");
        let mut t = -1_000_000_000i64;
        while t < 2_000_000_000 {
            let dt = jiff::civil::DateTime::from(
                jiff::Timestamp::from_second(t).unwrap().to_zoned_datetime(jiff::tz::TimeZone::UTC),
            );
            for zone in ["America/New_York", "Europe/Paris", "Australia/Sydney", "Asia/Kolkata"] {
                assert_eq!(
                    in_zone(&bundled, zone, dt, None, TimeUnit::S),
                    in_zone(jiff::tz::db(), zone, dt, None, TimeUnit::S),
                    "{dt} {zone}"
                );
            }
            t += 3_600 * 97;
        }
    }

    #[test]
    fn dst_gaps_and_folds_are_rejected_unless_an_offset_picks_one() {
        // pandas' tz_localize raises on all of these by default (nonexistent / ambiguous).
        let q = "%Y-%m-%d %H:%M %Q";
        for (v, why) in [
            (
                "2024-03-10 02:30 America/New_York",
                "2024-03-10T02:30:00 does not exist in America/New_York",
            ),
            ("2024-03-31 02:30 Europe/Paris", "2024-03-31T02:30:00 does not exist in Europe/Paris"),
            (
                "2024-10-06 02:30 Australia/Sydney",
                "2024-10-06T02:30:00 does not exist in Australia/Sydney",
            ),
            (
                "2024-11-03 01:30 America/New_York",
                "2024-11-03T01:30:00 is ambiguous in America/New_York (it happens twice, at -04 and -05)",
            ),
            (
                "2024-10-27 02:30 Europe/Paris",
                "2024-10-27T02:30:00 is ambiguous in Europe/Paris (it happens twice, at +02 and +01)",
            ),
            ("2024-07-01 12:00 Mars/Olympus_Mons", "unknown time zone \"Mars/Olympus_Mons\""),
        ] {
            match secs(q, v) {
                Err(r @ Reason::TimeZone(_)) => {
                    assert!(r.to_string().starts_with(why), "{v}: {r}");
                }
                other => panic!("{v}: {other:?}"),
            }
        }
        // With the offset as well, a fold has one answer: 01:30 EDT then 01:30 EST.
        let zq = "%Y-%m-%d %H:%M %z %Q";
        assert_eq!(secs(zq, "2024-11-03 01:30 -0400 America/New_York"), Ok(1_730_611_800));
        assert_eq!(secs(zq, "2024-11-03 01:30 -0500 America/New_York"), Ok(1_730_615_400));
        // An offset the zone does not use then, or one inside a gap, is refused.
        for v in
            ["2024-07-01 12:00 -0500 America/New_York", "2024-03-10 02:30 -0500 America/New_York"]
        {
            match secs(zq, v) {
                Err(r @ Reason::TimeZone(_)) => {
                    assert!(r.to_string().contains("is not one America/New_York uses"), "{r}");
                }
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    #[test]
    fn zone_abbreviations_are_refused_in_the_format() {
        for f in ["%Y-%m-%d %H:%M %Z", "%d/%m/%Y %-Z", "[%Z] %Y"] {
            let e = TimeFormat::new(f).unwrap_err().to_string();
            assert!(e.contains("%Z time zone abbreviations") && e.contains("use %Q"), "{f}: {e}");
        }
        // A literal "%Z" (after %%) and %z are fine.
        TimeFormat::new("%Y %%Z").unwrap();
        TimeFormat::new("%Y-%m-%d %H:%M %z").unwrap();
    }

    proptest::proptest! {
        #[test]
        fn what_jiff_prints_reads_back(secs in -62_135_596_800i64..253_402_300_799, off in -86_340i32..86_340) {
            // A time printed at an offset by one format reads back as the same instant.
            let offset = jiff::tz::Offset::from_seconds(off / 60 * 60).unwrap();
            let ts = jiff::Timestamp::from_second(secs).unwrap();
            let local = offset.to_datetime(ts);
            for f in ["%d/%b/%Y:%H:%M:%S %z", "%Y-%m-%d %H:%M:%S %:z"] {
                // The local time and its offset, printed as a log line would have them.
                let mut tm = strtime::BrokenDownTime::from(local);
                tm.set_offset(Some(offset));
                let text = tm.to_string(f).unwrap();
                let got = TimeFormat::new(f).unwrap().parse(text.as_bytes(), TimeUnit::S);
                proptest::prop_assert_eq!(got, Ok(secs), "{}", text);
            }
        }

        #[test]
        fn any_text_is_a_time_or_a_reason(s in "\\PC{0,30}") {
            let _ = TimeFormat::new("%d/%b/%Y:%H:%M:%S %z").unwrap().parse(s.as_bytes(), TimeUnit::Ns);
        }
    }

    #[test]
    fn bad_values_and_formats_say_why() {
        let clf = "%d/%b/%Y:%H:%M:%S %z";
        let not = Err(Reason::NotInFormat(clf.to_string()));
        assert_eq!(secs(clf, "2024-01-01T10:00:00Z"), not);
        assert_eq!(secs(clf, "32/Jan/2024:10:00:00 +0000"), not);
        assert_eq!(secs(clf, "01/Foo/2024:10:00:00 +0000"), not);
        assert_eq!(secs(clf, ""), Err(Reason::Missing));
        let ns = TimeFormat::new("%d/%m/%Y").unwrap();
        assert_eq!(
            ns.parse(b"01/01/2300", TimeUnit::Ns),
            Err(Reason::TimeOutOfRange(TimeUnit::Ns))
        );
        assert!(TimeFormat::new("").is_err());
        let e = TimeFormat::new("%Y-%").unwrap_err().to_string();
        assert!(e.contains("datetime format \"%Y-%\""), "{e}");
    }
}
