//! Evaluation of a bound [`Node`] over one block of rows: every node gives a vector of the
//! block's length with a validity (SQL NULL where false), read from the mapped files.

// Operands are `l`, `r`, `x`, `y` and rows `i`, as in the formulas they implement.
#![allow(clippy::many_single_char_names)]

use std::cmp::Ordering;

use super::bind::{InSet, Node, Ty, Val, whole};
use crate::dataset::{Codes, ColumnData, Numbers};
use crate::error::{Error, Result};
use crate::expr::{self, BinaryOp};
use crate::npy::MmapArray;

/// Rows `lo..hi` of the filter's columns.
pub(super) struct Block<'a> {
    pub(super) columns: &'a [ColumnData],
    pub(super) text: &'a str,
    pub(super) lo: usize,
    pub(super) hi: usize,
}

enum Data<'a> {
    Bool(Vec<bool>),
    Int(Vec<i128>),
    Float(Vec<f64>),
    Str(Vec<&'a str>),
}

/// A node's values over the block; `valid[i]` false is NULL (its value is a placeholder).
struct Vector<'a> {
    data: Data<'a>,
    valid: Vec<bool>,
}

impl Vector<'_> {
    fn null(n: usize) -> Vector<'static> {
        Vector { data: Data::Bool(vec![false; n]), valid: vec![false; n] }
    }

    fn bools(&self) -> Result<&[bool]> {
        match &self.data {
            Data::Bool(b) => Ok(b),
            _ => Err(Error::internal("a condition that gave no bools")),
        }
    }
}

/// Whether `op` holds for operands ordered `o` (`None`: unordered, a NaN): only `!=`.
pub(super) fn holds(op: BinaryOp, o: Option<Ordering>) -> bool {
    match o {
        None => op == BinaryOp::Ne,
        Some(o) => match op {
            BinaryOp::Eq => o == Ordering::Equal,
            BinaryOp::Ne => o != Ordering::Equal,
            BinaryOp::Lt => o == Ordering::Less,
            BinaryOp::Le => o != Ordering::Greater,
            BinaryOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        },
    }
}

/// An integer against a float, exactly (not through a rounded conversion).
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1.0e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.0e38 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    #[allow(clippy::cast_possible_truncation)]
    match i.cmp(&(t as i128)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)),
        o => Some(o),
    }
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(d: &Data<'_>, i: usize) -> f64 {
    match d {
        Data::Int(v) => v[i] as f64,
        Data::Float(v) => v[i],
        _ => f64::NAN,
    }
}

/// Python's `%`: the result takes the divisor's sign.
fn floored_rem_f(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }
}

fn floored_rem_i(a: i128, b: i128) -> Option<i128> {
    let r = a.checked_rem(b)?;
    Some(if r != 0 && (r < 0) != (b < 0) { r + b } else { r })
}

/// `bytes` (bool flags) of rows `lo..hi`, each checked to be 0 or 1.
fn flags(a: &MmapArray<bool>, lo: usize, hi: usize) -> Result<Vec<bool>> {
    let bytes = a.data_bytes()?;
    let Some(block) = bytes.get(lo..hi) else {
        return Err(Error::invalid(a.path(), format!("rows {lo}..{hi} are past its end")));
    };
    block
        .iter()
        .enumerate()
        .map(|(i, &b)| match b {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::format(
                a.path(),
                (a.header().data_offset + lo + i) as u64,
                format!("row {}: bool byte {b} is neither 0 nor 1", lo + i),
            )),
        })
        .collect()
}

impl<'a> Block<'a> {
    fn len(&self) -> usize {
        self.hi - self.lo
    }

    /// The rows where `node` is TRUE.
    pub(super) fn mask(&self, node: &'a Node) -> Result<Vec<bool>> {
        if node.ty() == Ty::Null {
            return Ok(vec![false; self.len()]);
        }
        let v = self.eval(node)?;
        Ok(v.bools()?.iter().zip(&v.valid).map(|(&b, &ok)| b && ok).collect())
    }

    /// Drops the pages of the block's rows of every column from the resident set, once
    /// evaluated: a pass over a dataset larger than RAM keeps a small footprint.
    pub(super) fn release(&self) -> Result<()> {
        fn rows<T: crate::dtype::Element>(a: &MmapArray<T>, lo: usize, n: usize) -> Result<()> {
            let size = std::mem::size_of::<T>();
            a.release_range(lo * size, n * size)
        }
        let (lo, n) = (self.lo, self.len());
        for c in self.columns {
            if let Some(v) = c.validity_file() {
                rows(v, lo, n)?;
            }
            match c {
                ColumnData::Number(x) => match x {
                    Numbers::I8(x) => rows(x.values_file(), lo, n)?,
                    Numbers::I16(x) => rows(x.values_file(), lo, n)?,
                    Numbers::I32(x) => rows(x.values_file(), lo, n)?,
                    Numbers::I64(x) => rows(x.values_file(), lo, n)?,
                    Numbers::U8(x) => rows(x.values_file(), lo, n)?,
                    Numbers::U16(x) => rows(x.values_file(), lo, n)?,
                    Numbers::U32(x) => rows(x.values_file(), lo, n)?,
                    Numbers::U64(x) => rows(x.values_file(), lo, n)?,
                    Numbers::F16(x) => rows(x.values_file(), lo, n)?,
                    Numbers::F32(x) => rows(x.values_file(), lo, n)?,
                    Numbers::F64(x) => rows(x.values_file(), lo, n)?,
                },
                ColumnData::Bool(b) => rows(b.values_file(), lo, n)?,
                ColumnData::DateTime(d) => rows(d.counts().values_file(), lo, n)?,
                ColumnData::String(s) => s.strings().release(lo, self.hi)?,
                ColumnData::Categorical(c) => match c.codes() {
                    Codes::U8(x) => rows(x, lo, n)?,
                    Codes::U16(x) => rows(x, lo, n)?,
                    Codes::U32(x) => rows(x, lo, n)?,
                },
            }
        }
        Ok(())
    }

    fn overflow(&self, at: usize, op: &str) -> Error {
        expr::error_at(
            self.text,
            at,
            &format!("integer overflow in {op} (rows {}..{})", self.lo, self.hi),
        )
    }

    fn validity(&self, data: &ColumnData) -> Result<Vec<bool>> {
        match data.validity_file() {
            Some(v) => flags(v, self.lo, self.hi),
            None => Ok(vec![true; self.len()]),
        }
    }

    fn column(&self, i: usize) -> Result<Vector<'a>> {
        let (lo, hi) = (self.lo, self.hi);
        let c = &self.columns[i];
        let mut valid = self.validity(c)?;
        macro_rules! ints {
            ($n:expr) => {
                Data::Int($n.values()?[lo..hi].iter().map(|&x| i128::from(x)).collect())
            };
        }
        macro_rules! floats {
            ($n:expr) => {
                Data::Float($n.values()?[lo..hi].iter().map(|&x| f64::from(x)).collect())
            };
        }
        let data = match c {
            ColumnData::Number(n) => match n {
                Numbers::I8(n) => ints!(n),
                Numbers::I16(n) => ints!(n),
                Numbers::I32(n) => ints!(n),
                Numbers::I64(n) => ints!(n),
                Numbers::U8(n) => ints!(n),
                Numbers::U16(n) => ints!(n),
                Numbers::U32(n) => ints!(n),
                Numbers::U64(n) => ints!(n),
                Numbers::F16(n) => floats!(n),
                Numbers::F32(n) => floats!(n),
                Numbers::F64(n) => Data::Float(n.values()?[lo..hi].to_vec()),
            },
            ColumnData::Bool(b) => Data::Bool(flags(b.values_file(), lo, hi)?),
            ColumnData::DateTime(d) => {
                let unit = i128::from(d.unit().nanos());
                let counts = &d.counts().values()?[lo..hi];
                // numpy's NaT is missing too.
                for (ok, &c) in valid.iter_mut().zip(counts) {
                    *ok &= c != i64::MIN;
                }
                Data::Int(counts.iter().map(|&c| i128::from(c) * unit).collect())
            }
            ColumnData::String(s) => {
                let view = s.strings().view()?;
                let mut out = Vec::with_capacity(self.len());
                for (i, &ok) in (lo..hi).zip(&valid) {
                    out.push(if ok { view.get(i)? } else { "" });
                }
                Data::Str(out)
            }
            ColumnData::Categorical(c) => {
                c.check_codes(lo..hi)?;
                let labels = c.categories();
                let codes = self.codes(c.codes())?;
                let label = |(&code, &ok): (&u32, &bool)| {
                    if ok { labels.get(code as usize).map_or("", String::as_str) } else { "" }
                };
                Data::Str(codes.iter().zip(&valid).map(label).collect())
            }
        };
        Ok(Vector { data, valid })
    }

    fn codes(&self, codes: &Codes) -> Result<Vec<u32>> {
        let (lo, hi) = (self.lo, self.hi);
        Ok(match codes {
            Codes::U8(c) => c.as_slice()?[lo..hi].iter().map(|&x| u32::from(x)).collect(),
            Codes::U16(c) => c.as_slice()?[lo..hi].iter().map(|&x| u32::from(x)).collect(),
            Codes::U32(c) => c.as_slice()?[lo..hi].to_vec(),
        })
    }

    fn literal(&self, v: &'a Val) -> Vector<'a> {
        let n = self.len();
        let data = match v {
            Val::Null => return Vector::null(n),
            Val::Bool(b) => Data::Bool(vec![*b; n]),
            Val::Int(i) => Data::Int(vec![*i; n]),
            Val::Float(f) => Data::Float(vec![*f; n]),
            Val::Str(s) => Data::Str(vec![s.as_str(); n]),
        };
        Vector { data, valid: vec![true; n] }
    }

    #[allow(clippy::too_many_lines)] // one arm per kind of node
    fn eval(&self, node: &'a Node) -> Result<Vector<'a>> {
        let n = self.len();
        if node.ty() == Ty::Null {
            return Ok(Vector::null(n));
        }
        Ok(match node {
            Node::Lit(v, _) => self.literal(v),
            Node::Column(i, _) => self.column(*i)?,
            Node::Neg(x, _, at) => {
                let mut v = self.eval(x)?;
                match &mut v.data {
                    Data::Int(xs) => {
                        for (x, &ok) in xs.iter_mut().zip(&v.valid) {
                            if ok {
                                *x = x.checked_neg().ok_or_else(|| self.overflow(*at, "-"))?;
                            }
                        }
                    }
                    Data::Float(xs) => xs.iter_mut().for_each(|x| *x = -*x),
                    _ => return Err(Error::internal("negating what is not a number")),
                }
                v
            }
            Node::Arith { op, l, r, ty, at } => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                self.arith(*op, &l, &r, *ty, *at)?
            }
            Node::Cmp { op, l, r } => {
                if l.ty() == Ty::Null || r.ty() == Ty::Null {
                    return Ok(Vector::null(n));
                }
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                compare(*op, &l, &r)?
            }
            Node::And(parts) => self.kleene(parts, true)?,
            Node::Or(parts) => self.kleene(parts, false)?,
            Node::Not(x) => {
                let mut v = self.eval(x)?;
                if let Data::Bool(b) = &mut v.data {
                    for b in b.iter_mut() {
                        *b = !*b;
                    }
                }
                v
            }
            Node::IsNull { x, negated } => {
                let v = if x.ty() == Ty::Null { Vector::null(n) } else { self.eval(x)? };
                let nan = |i: usize| matches!(&v.data, Data::Float(f) if f[i].is_nan());
                let b = (0..n).map(|i| (!v.valid[i] || nan(i)) != *negated).collect();
                Vector { data: Data::Bool(b), valid: vec![true; n] }
            }
            Node::In { x, set, has_null, negated } => {
                if x.ty() == Ty::Null {
                    return Ok(Vector::null(n));
                }
                let v = self.eval(x)?;
                let hit = |i: usize| -> bool {
                    match (set, &v.data) {
                        (InSet::Numbers { ints, .. }, Data::Int(xs)) => ints.contains(&xs[i]),
                        (InSet::Numbers { ints, floats }, Data::Float(xs)) => match whole(xs[i]) {
                            Some(w) => ints.contains(&w),
                            None => floats.binary_search_by(|f| f.total_cmp(&xs[i])).is_ok(),
                        },
                        (InSet::Strs(s), Data::Str(xs)) => s.contains(xs[i]),
                        (InSet::Bools(b), Data::Bool(xs)) => b[usize::from(xs[i])],
                        _ => false,
                    }
                };
                let mut valid = v.valid.clone();
                let mut b = vec![false; n];
                for i in 0..n {
                    if !valid[i] {
                        continue;
                    }
                    if hit(i) {
                        b[i] = !negated;
                    } else if *has_null {
                        valid[i] = false;
                    } else {
                        b[i] = *negated;
                    }
                }
                Vector { data: Data::Bool(b), valid }
            }
            Node::Like { x, pattern, negated } => {
                let v = self.eval(x)?;
                let Data::Str(xs) = &v.data else {
                    return Err(Error::internal("LIKE on what is not a string"));
                };
                let b = xs.iter().map(|s| pattern.matches(s) != *negated).collect();
                Vector { data: Data::Bool(b), valid: v.valid }
            }
            Node::Codes { column, table } => {
                let c = &self.columns[*column];
                let ColumnData::Categorical(cat) = c else {
                    return Err(Error::internal(
                        "a code table on a column that is not categorical",
                    ));
                };
                cat.check_codes(self.lo..self.hi)?;
                let mut valid = self.validity(c)?;
                let codes = self.codes(cat.codes())?;
                let mut b = vec![false; n];
                for i in 0..n {
                    match table.get(codes[i] as usize).copied().flatten() {
                        Some(x) => b[i] = x,
                        None => valid[i] = false,
                    }
                }
                Vector { data: Data::Bool(b), valid }
            }
        })
    }

    /// `AND` (`and`) or `OR` of `parts` in SQL's three-valued logic; parts after the one that
    /// decides every row are not read.
    fn kleene(&self, parts: &'a [Node], and: bool) -> Result<Vector<'a>> {
        let n = self.len();
        // Start from the identity: TRUE for AND, FALSE for OR.
        let (mut b, mut valid) = (vec![and; n], vec![true; n]);
        for p in parts {
            // Decided: a known FALSE (AND) or TRUE (OR) that nothing changes.
            if b.iter().zip(&valid).all(|(&x, &ok)| ok && x != and) {
                break;
            }
            let v = self.eval(p)?;
            let pb = v.bools()?;
            for i in 0..n {
                let (x, xk, y, yk) = (b[i], valid[i], pb[i], v.valid[i]);
                // The dominant value (FALSE for AND, TRUE for OR) known on either side wins.
                let dominant = (xk && x != and) || (yk && y != and);
                let both = xk && yk;
                (b[i], valid[i]) = if dominant { (!and, true) } else { (and, both) };
            }
        }
        Ok(Vector { data: Data::Bool(b), valid })
    }

    fn arith(
        &self,
        op: BinaryOp,
        l: &Vector<'a>,
        r: &Vector<'a>,
        ty: Ty,
        at: usize,
    ) -> Result<Vector<'a>> {
        let n = self.len();
        let mut valid: Vec<bool> = l.valid.iter().zip(&r.valid).map(|(&a, &b)| a && b).collect();
        let data = match (ty, &l.data, &r.data) {
            (Ty::Int | Ty::Time | Ty::Interval, Data::Int(a), Data::Int(b)) => {
                let mut out = vec![0i128; n];
                for i in 0..n {
                    if !valid[i] {
                        continue;
                    }
                    let (x, y) = (a[i], b[i]);
                    let v = match op {
                        BinaryOp::Add => x.checked_add(y),
                        BinaryOp::Sub => x.checked_sub(y),
                        BinaryOp::Mul => x.checked_mul(y),
                        _ if y == 0 => {
                            valid[i] = false;
                            continue;
                        }
                        _ => floored_rem_i(x, y),
                    };
                    out[i] = v.ok_or_else(|| self.overflow(at, op.symbol()))?;
                }
                Data::Int(out)
            }
            (Ty::Float, a, b) => {
                let mut out = vec![0f64; n];
                for i in 0..n {
                    let (x, y) = (as_f64(a, i), as_f64(b, i));
                    out[i] = match op {
                        BinaryOp::Add => x + y,
                        BinaryOp::Sub => x - y,
                        BinaryOp::Mul => x * y,
                        // Division by zero is NULL, as in SQL.
                        BinaryOp::Div | BinaryOp::Rem if y == 0.0 => {
                            valid[i] = false;
                            0.0
                        }
                        BinaryOp::Div => x / y,
                        _ => floored_rem_f(x, y),
                    };
                }
                Data::Float(out)
            }
            _ => return Err(Error::internal("arithmetic on operands binding did not allow")),
        };
        Ok(Vector { data, valid })
    }
}

fn compare<'a>(op: BinaryOp, l: &Vector<'a>, r: &Vector<'a>) -> Result<Vector<'a>> {
    let valid: Vec<bool> = l.valid.iter().zip(&r.valid).map(|(&a, &b)| a && b).collect();
    let n = valid.len();
    macro_rules! each {
        ($f:expr) => {
            (0..n).map(|i| holds(op, $f(i))).collect()
        };
    }
    let b: Vec<bool> = match (&l.data, &r.data) {
        (Data::Int(a), Data::Int(b)) => each!(|i: usize| Some(a[i].cmp(&b[i]))),
        (Data::Float(a), Data::Float(b)) => each!(|i: usize| a[i].partial_cmp(&b[i])),
        (Data::Int(a), Data::Float(b)) => each!(|i: usize| cmp_int_float(a[i], b[i])),
        (Data::Float(a), Data::Int(b)) => {
            each!(|i: usize| cmp_int_float(b[i], a[i]).map(Ordering::reverse))
        }
        (Data::Str(a), Data::Str(b)) => each!(|i: usize| Some(a[i].cmp(b[i]))),
        (Data::Bool(a), Data::Bool(b)) => each!(|i: usize| Some(a[i].cmp(&b[i]))),
        _ => return Err(Error::internal("comparing operands binding did not allow")),
    };
    Ok(Vector { data: Data::Bool(b), valid })
}
