//! Durations written as pandas' offset aliases and numpy's unit names: `1s`, `15min`,
//! `1h30min`, `2d` — the widths of `groupby --every` and the intervals of `--where`.

/// Unit names (the first is the one printed) and their length in nanoseconds, shortest first.
pub(crate) const UNITS: [(&[&str], i64); 7] = [
    (&["ns", "N"], 1),
    (&["us", "U", "µs"], 1_000),
    (&["ms", "L"], 1_000_000),
    (&["s", "S"], 1_000_000_000),
    (&["min", "m", "T"], 60_000_000_000),
    (&["h", "H"], 3_600_000_000_000),
    (&["d", "D"], 86_400_000_000_000),
];

/// The nanoseconds of a duration such as `1h30min` (a count before each unit, 1 if omitted).
///
/// ```
/// assert_eq!(larder::dtype::parse_duration("1h30min"), Ok(5_400_000_000_000));
/// assert!(larder::dtype::parse_duration("3 weeks").is_err());
/// ```
///
/// # Errors
/// Why it is not one: empty, an unknown unit, a number without a unit, longer than `i64`
/// nanoseconds (292 years).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty".into());
    }
    let mut nanos: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let count: i64 = if digits == 0 {
            1
        } else {
            rest[..digits].parse().map_err(|_| "number too large".to_string())?
        };
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let per =
            UNITS.iter().find(|(names, _)| names.contains(&unit)).map(|&(_, n)| n).ok_or_else(
                || {
                    if unit.is_empty() {
                        "no unit".to_string()
                    } else {
                        format!("unknown unit {unit:?}")
                    }
                },
            )?;
        nanos = count
            .checked_mul(per)
            .and_then(|n| nanos.checked_add(n))
            .ok_or_else(|| "longer than 292 years".to_string())?;
    }
    Ok(nanos)
}
