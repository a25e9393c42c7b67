//! Timestamps in a layout of the user's (`01/Jan/2024:10:00:00 +0000`), read with a strftime
//! format by `jiff`. ISO 8601 keeps its own fast parser (`value::parse_datetime`); a column
//! with a format uses this one only.

use jiff::fmt::strtime;
use jiff::tz::Offset;

use crate::dtype::TimeUnit;
use crate::error::{Error, Result};

use super::value::Reason;

/// A strftime-style format (`%d/%b/%Y:%H:%M:%S %z`, `%d/%m/%Y`) for a `datetime64` column.
///
/// A value with an offset (`%z`, `%:z`) is converted to UTC; a value without one is taken as
/// UTC. A date without a time is midnight.
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
