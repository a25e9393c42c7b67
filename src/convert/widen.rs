//! Widening an inferred column: a type is never inferred into losing rows.
//!
//! Types no schema gave are inferred from a sample of the first records. A later value that
//! does not fit its column's inferred type would reject its record; instead the column widens,
//! as pandas (which reads the whole file before it types a column) would have typed it:
//! `i64` to `u64` (values past `i64::MAX`, none negative so far) or `f64`, `u64` to `f64`,
//! `datetime64` to a finer unit when every value so far fits it, and any of them (or `bool`) to
//! `str` for text. The staging then reads the rest of the input to find every widening, and the
//! whole input is converted again with the widened types: one re-read at most (see
//! `staging.rs`). Columns whose type was given (`--type`, a schema, an append's dataset) never
//! widen; their rejects stay.

use std::fmt::Write as _;

use crate::dtype::TimeUnit;

use super::columns::{Parsed, Reject};
use super::plan::Plan;
use super::record::fields_of;
use super::schema::ColumnType;
use super::value::{Reason, datetime_unit, parse_float, parse_int};

/// A column whose inferred type a value did not fit, and the type that fits it.
#[derive(Clone, Debug)]
pub(crate) struct Widening {
    /// Index of the column in the plan.
    pub(crate) column: usize,
    pub(crate) from: ColumnType,
    pub(crate) to: ColumnType,
    /// The value, and why it did not fit.
    pub(crate) value: String,
    pub(crate) reason: String,
}

impl Widening {
    /// The note for the user: which column widened, where (`at`: the line, and the file with
    /// several inputs), because of which value, and how to keep the inferred type.
    pub(crate) fn note(&self, plan: &Plan, at: &str) -> String {
        let name = &plan.columns[self.column].name;
        let mut note = format!(
            "column {name:?} is {to} rather than the {from} inferred from the first rows: \
             {value:?} at {at} is {reason}, so every row was read again as {to}; to keep it \
             {from}, give its type (--type {name}={from}) and such rows are rejected",
            to = self.to,
            from = self.from,
            value = self.value,
            reason = self.reason,
        );
        let numeric = self.from.is_int() || matches!(self.from, ColumnType::F64 | ColumnType::F32);
        if numeric && self.to == ColumnType::Str {
            let _ = write!(
                note,
                ", or, if {:?} means a missing value, add it to the missing-value tokens \
                 (--na with the default tokens and it)",
                self.value
            );
        }
        note
    }
}

/// True for a column whose rejects may widen it.
fn may_widen(plan: &Plan, column: usize) -> bool {
    plan.columns[column].inferred
}

/// The first reject of `p` that a wider type of its (inferred) column would have kept, and
/// that type; `ranges` are the columns' integer ranges so far (including `p`'s rows), which
/// tell whether the values so far fit the wider type. `None` when no reject is such.
pub(crate) fn first(
    plan: &Plan,
    p: &Parsed,
    ranges: &[Option<(i128, i128)>],
) -> Option<(Widening, u64)> {
    p.rejects.iter().find_map(|r| widening(plan, r, ranges).map(|w| (w, r.line)))
}

fn widening(plan: &Plan, r: &Reject, ranges: &[Option<(i128, i128)>]) -> Option<Widening> {
    let column = r.column?;
    if !may_widen(plan, column) {
        return None;
    }
    let widens = matches!(
        r.reason,
        Reason::NotInt
            | Reason::OutOfRange(_)
            | Reason::NotFloat
            | Reason::NotBool
            | Reason::NotDateTime
            | Reason::TimeOutOfRange(_)
            | Reason::FinerThanUnit(_)
    );
    if !widens {
        return None;
    }
    let c = &plan.columns[column];
    let fields = fields_of(&r.raw, plan.delimiter).ok()?;
    let value = fields.get(c.field)?;
    let to = wider(c.ty, value, ranges.get(column).copied().flatten());
    (to != c.ty).then(|| Widening {
        column,
        from: c.ty,
        to,
        value: String::from_utf8_lossy(value).into_owned(),
        reason: r.reason.to_string(),
    })
}

/// The narrowest type wider than `ty` that holds `value` and every value so far (whose integer
/// range is `range`, for integer and date-time columns).
pub(crate) fn wider(ty: ColumnType, value: &[u8], range: Option<(i128, i128)>) -> ColumnType {
    let number = parse_float::<f64>(value).is_ok();
    match ty {
        ColumnType::Cat | ColumnType::Str => ty,
        ColumnType::I64
            if parse_int::<u64>(value).is_ok() && range.is_none_or(|(lo, _)| lo >= 0) =>
        {
            ColumnType::U64
        }
        t if t.is_int() && number => ColumnType::F64,
        ColumnType::DateTime(unit) => match datetime_unit(value) {
            Some(finer) if finer > unit && fits(range, unit, finer) => ColumnType::DateTime(finer),
            _ => ColumnType::Str,
        },
        _ => ColumnType::Str,
    }
}

/// True when values from `range` in `unit` still fit 64 bits in the finer unit `finer`.
fn fits(range: Option<(i128, i128)>, unit: TimeUnit, finer: TimeUnit) -> bool {
    let factor = i128::from(unit.nanos() / finer.nanos());
    range.is_none_or(|(lo, hi)| {
        i64::try_from(lo * factor).is_ok() && i64::try_from(hi * factor).is_ok()
    })
}

/// `range` of a column, in the units of its new type `to` (date-times change unit).
pub(crate) fn rescale(
    range: Option<(i128, i128)>,
    from: ColumnType,
    to: ColumnType,
) -> Option<(i128, i128)> {
    match (from, to) {
        (ColumnType::DateTime(a), ColumnType::DateTime(b)) => {
            let factor = i128::from(a.nanos() / b.nanos());
            range.map(|(lo, hi)| (lo * factor, hi * factor))
        }
        (f, t) if f.is_int() && t.is_int() => range,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_widen_a_column_to_the_narrowest_type_that_holds_them() {
        use ColumnType as T;
        let w = |ty, v: &str, range| wider(ty, v.as_bytes(), range);
        assert_eq!(w(T::I64, "1.5", Some((0, 9))), T::F64);
        assert_eq!(w(T::I64, "18446744073709551615", Some((0, 9))), T::U64);
        assert_eq!(w(T::I64, "18446744073709551615", Some((-1, 9))), T::F64);
        assert_eq!(w(T::I64, "18446744073709551616", None), T::F64);
        assert_eq!(w(T::U64, "-1", None), T::F64);
        assert_eq!(w(T::I64, "n.a.", None), T::Str);
        assert_eq!(w(T::F64, "n.a.", None), T::Str);
        assert_eq!(w(T::Bool, "2", None), T::Str);
        let d = T::DateTime(TimeUnit::D);
        assert_eq!(w(d, "2024-01-02T10:00:00", Some((0, 20_000))), T::DateTime(TimeUnit::S));
        assert_eq!(w(d, "2024-01-02T10:00:00.5", None), T::DateTime(TimeUnit::Ms));
        // Dates of year 1500 do not fit nanoseconds: text then.
        assert_eq!(w(d, "2024-01-02T10:00:00.000000001", Some((-171_000, 0))), T::Str);
        assert_eq!(w(d, "soon", None), T::Str);
        assert_eq!(w(T::Cat, "x", None), T::Cat);
        assert_eq!(rescale(Some((1, 2)), d, T::DateTime(TimeUnit::H)), Some((24, 48)));
        assert_eq!(rescale(Some((1, 2)), T::I64, T::F64), None);
    }
}
