//! Deciding, per zone, whether an expression may be true on one of its rows.
//!
//! A row passes a filter when the expression is TRUE (not FALSE, not NULL). For each node and
//! zone two facts are worked out: `t`, some row *may* make it TRUE, and `f`, some row *may*
//! make it FALSE. `AND`, `OR` and `NOT` combine them soundly under SQL's three-valued logic
//! (`NOT` swaps them); a comparison of a column with a value reads them off the zone's
//! smallest and largest value, its missing and NaN counts and, for a categorical, its code
//! bitmap. Whatever the statistics cannot decide is `t = f = true`: the zone is kept. NaN
//! makes both possible, whichever way an evaluation orders it.

// Zone math reads best with its usual short names: z a zone, i its index, c a column's
// statistics, v a value, t and f the two facts.
#![allow(clippy::many_single_char_names)]

use std::cmp::Ordering;
use std::cmp::Ordering::{Equal, Greater, Less};

use super::files::StatKind;
use super::{ColumnZones, Num, ZoneMaps};
use crate::expr::{BinaryOp, Expr, Literal};

/// May be TRUE, may be FALSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tf {
    t: bool,
    f: bool,
}

const UNKNOWN: Tf = Tf { t: true, f: true };

/// Whether `expr` may be true on a row of zone `z`.
pub(super) fn may_be_true(maps: &ZoneMaps, expr: &Expr, z: u64) -> bool {
    maps.zone_len(z) > 0 && eval(maps, expr, z).t
}

fn eval(maps: &ZoneMaps, expr: &Expr, z: u64) -> Tf {
    match expr {
        Expr::Not(e) => {
            let a = eval(maps, e, z);
            Tf { t: a.f, f: a.t }
        }
        Expr::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), .. } => {
            // A flat chain `a OR b OR …` is a left-deep tree as deep as it is long: walk its
            // left spine in a loop, not by recursion.
            let mut terms = Vec::new();
            let mut e = expr;
            while let Expr::Binary { op: o, left, right } = e
                && o == op
            {
                terms.push(&**right);
                e = left;
            }
            terms.push(e);
            let and = *op == BinaryOp::And;
            terms.iter().rev().fold(Tf { t: and, f: !and }, |acc, term| {
                let b = eval(maps, term, z);
                if and {
                    Tf { t: acc.t && b.t, f: acc.f || b.f }
                } else {
                    Tf { t: acc.t || b.t, f: acc.f && b.f }
                }
            })
        }
        Expr::Binary { op, left, right } if op.is_comparison() => {
            match (column_of(maps, left), literal(right), column_of(maps, right), literal(left)) {
                (Some(c), Some(v), _, _) => compare(maps, c, z, *op, &v),
                (_, _, Some(c), Some(v)) => compare(maps, c, z, op.flipped(), &v),
                _ => UNKNOWN,
            }
        }
        Expr::Between { expr, low, high, negated } => {
            let (Some(c), Some(lo), Some(hi)) =
                (column_of(maps, expr), literal(low), literal(high))
            else {
                return UNKNOWN;
            };
            let (a, b) =
                (compare(maps, c, z, BinaryOp::Ge, &lo), compare(maps, c, z, BinaryOp::Le, &hi));
            let r = Tf { t: a.t && b.t, f: a.f || b.f };
            if *negated { Tf { t: r.f, f: r.t } } else { r }
        }
        Expr::In { expr, list, negated } => {
            let Some(c) = column_of(maps, expr) else { return UNKNOWN };
            let r = in_list(c, z, list);
            if *negated { Tf { t: r.f, f: r.t } } else { r }
        }
        Expr::IsNull { expr, negated } => {
            let Some(c) = column_of(maps, expr) else { return UNKNOWN };
            let i = usize::try_from(z).unwrap_or(usize::MAX);
            let len = maps.zone_len(z);
            let nulls = u64::from(c.nulls[i]);
            // NaN may count as missing (pandas) or not (SQL): both are allowed for.
            let maybe_null = nulls + u64::from(c.nans[i]);
            let r = Tf { t: maybe_null > 0, f: nulls < len };
            if *negated { Tf { t: r.f, f: r.t } } else { r }
        }
        _ => UNKNOWN,
    }
}

/// The zone statistics of `e`, if it is a column that has them.
fn column_of<'a>(maps: &'a ZoneMaps, e: &Expr) -> Option<&'a ColumnZones> {
    match e {
        Expr::Column { name, .. } => maps.columns.get(name),
        _ => None,
    }
}

/// The value of `e`, if it is one (a negated number included).
pub(super) fn literal(e: &Expr) -> Option<Literal> {
    match e {
        Expr::Literal { value, .. } => Some(value.clone()),
        Expr::Negate(inner) => match literal(inner)? {
            Literal::Int(i) => i.checked_neg().map(Literal::Int),
            // A value past i64 negated would be a rounded float: left to the evaluation.
            Literal::Float(f) => Some(Literal::Float(-f)),
            _ => None,
        },
        _ => None,
    }
}

/// A value as a column's statistics compare it.
enum Key {
    /// A value of another kind (left to the evaluation, which refuses it or decides
    /// otherwise), NULL or NaN: the statistics cannot tell.
    Unknown,
    /// A label the categorical does not have: it equals no value.
    NoLabel,
    Num(Num),
}

/// `v` as the statistics of `c` compare it.
fn key(c: &ColumnZones, v: &Literal) -> Key {
    Key::Num(match (c.kind, v) {
        (StatKind::Int | StatKind::Float, Literal::Int(i)) => Num::I(i128::from(*i)),
        (StatKind::Int | StatKind::Float, Literal::UInt(u)) => Num::I(i128::from(*u)),
        (StatKind::Int | StatKind::Float, Literal::Float(f)) if !f.is_nan() => Num::F(*f),
        (StatKind::Int, Literal::Bool(b)) => Num::I(i128::from(*b)),
        (StatKind::DateTime, Literal::Time(ns)) => Num::I(i128::from(*ns)),
        (StatKind::Codes, Literal::Str(s)) => match c.labels.as_ref().map(|l| l.get(s)) {
            Some(Some(&code)) => Num::I(i128::from(code)),
            Some(None) => return Key::NoLabel,
            None => return Key::Unknown,
        },
        _ => return Key::Unknown,
    })
}

/// Exact order of two numbers; `None` with NaN.
pub(crate) fn cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        (Num::F(x), Num::F(y)) => x.partial_cmp(&y),
        (Num::I(x), Num::F(y)) => cmp_int_float(x, y),
        (Num::F(x), Num::I(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

/// `i` against `f` exactly (no rounding of `i` to a float).
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Past ±2^100 no i128 value here (at most 2^64 · 2^47 for nanoseconds) comes near.
    if f >= 1e30 {
        return Some(Ordering::Less);
    }
    if f <= -1e30 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    #[allow(clippy::cast_possible_truncation)]
    let w = whole as i128; // exact: |whole| < 1e30 < 2^127, and whole is an integer
    match i.cmp(&w) {
        Equal => (0.0).partial_cmp(&(f - whole)),
        o => Some(o),
    }
}

/// May some value of the zone, in `[lo, hi]`, be TRUE / FALSE for `x op v`.
fn range_tf(lo: Num, hi: Num, op: BinaryOp, v: Num) -> Tf {
    let (Some(l), Some(h)) = (cmp(lo, v), cmp(hi, v)) else { return UNKNOWN };
    let all_equal = l == Equal && h == Equal;
    let inside = l != Greater && h != Less;
    match op {
        BinaryOp::Eq => Tf { t: inside, f: !all_equal },
        BinaryOp::Ne => Tf { t: !all_equal, f: inside },
        BinaryOp::Lt => Tf { t: l == Less, f: h != Less },
        BinaryOp::Le => Tf { t: l != Greater, f: h == Greater },
        BinaryOp::Gt => Tf { t: h == Greater, f: l != Greater },
        BinaryOp::Ge => Tf { t: h != Less, f: l == Less },
        _ => UNKNOWN,
    }
}

/// Rows of zone `z` holding a value (not missing, not NaN), and whether any is NaN.
fn values_in(c: &ColumnZones, z: usize, len: u64) -> (u64, bool) {
    let missing = u64::from(c.nulls[z]) + u64::from(c.nans[z]);
    (len.saturating_sub(missing), c.nans[z] > 0)
}

fn compare(maps: &ZoneMaps, c: &ColumnZones, z: u64, op: BinaryOp, v: &Literal) -> Tf {
    // Codes are in the order categories were met, not the labels' order.
    if c.kind == StatKind::Codes && !matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
        return UNKNOWN;
    }
    let i = usize::try_from(z).unwrap_or(usize::MAX);
    let len = maps.zone_len(z);
    let (n, nan) = values_in(c, i, len);
    let mut r = match key(c, v) {
        Key::Unknown => return UNKNOWN,
        // A label the categorical lacks: equal to no value, unequal to all.
        Key::NoLabel => match op {
            BinaryOp::Eq => Tf { t: false, f: n > 0 },
            BinaryOp::Ne => Tf { t: n > 0, f: false },
            _ => return UNKNOWN,
        },
        Key::Num(_) if n == 0 => Tf { t: false, f: false },
        Key::Num(v) => match (&c.codes, op) {
            (Some((w, bits)), BinaryOp::Eq | BinaryOp::Ne) => {
                let row = &bits[i * w..(i + 1) * w];
                let r = codes_tf(row, &[v]);
                if op == BinaryOp::Eq { r } else { Tf { t: r.f, f: r.t } }
            }
            _ => range_tf(c.min[i], c.max[i], op, v),
        },
    };
    if nan {
        r = UNKNOWN;
    }
    r
}

/// May a zone with code bitmap `row` hold one of `codes` (TRUE) / a code not among them
/// (FALSE).
fn codes_tf(row: &[u8], codes: &[Num]) -> Tf {
    let mut mask = vec![0u8; row.len()];
    for v in codes {
        if let Num::I(k) = *v
            && let Ok(k) = usize::try_from(k)
            && k / 8 < mask.len()
        {
            mask[k / 8] |= 1 << (k % 8);
        }
    }
    let t = row.iter().zip(&mask).any(|(r, m)| r & m != 0);
    let f = row.iter().zip(&mask).any(|(r, m)| r & !m != 0);
    Tf { t, f }
}

fn in_list(c: &ColumnZones, z: u64, list: &[(Literal, usize)]) -> Tf {
    let i = usize::try_from(z).unwrap_or(usize::MAX);
    let has_null = list.iter().any(|(v, _)| *v == Literal::Null);
    let mut keys = Vec::new();
    for (v, _) in list.iter().filter(|(v, _)| *v != Literal::Null) {
        match key(c, v) {
            Key::Unknown => return UNKNOWN,
            Key::Num(k) => keys.push(k),
            Key::NoLabel => {}
        }
    }
    if c.nans[i] > 0 {
        return UNKNOWN;
    }
    let r = if let Some((w, bits)) = &c.codes {
        codes_tf(&bits[i * w..(i + 1) * w], &keys)
    } else {
        let t = keys.iter().any(|&k| range_tf(c.min[i], c.max[i], BinaryOp::Eq, k).t);
        let f = keys.iter().all(|&k| range_tf(c.min[i], c.max[i], BinaryOp::Eq, k).f);
        Tf { t, f }
    };
    // `x IN (…, NULL)` is NULL, not FALSE, where x matches nothing in the list.
    Tf { t: r.t, f: r.f && !has_null }
}
