//! Binding: an [`Expr`] checked against the dataset's columns and turned into a typed
//! [`Node`] tree. Every type error is found here, before a row is read, and marks its
//! position in the expression's text.

use std::collections::HashSet;

use super::like::Pattern;
use crate::dataset::{ColumnData, Dataset, Numbers};
use crate::error::{Error, Result};
use crate::expr::{self, BinaryOp, Expr, Literal};

/// The deepest a bound tree may be: long flat `AND`/`OR` chains are flattened, so only
/// arithmetic chains (`a + a + …`) come near it.
pub(super) const MAX_BOUND_DEPTH: usize = expr::MAX_DEPTH;

/// The type of a node's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Bool,
    Int,
    Float,
    /// Nanoseconds since 1970-01-01T00:00Z.
    Time,
    /// Nanoseconds.
    Interval,
    Str,
    /// The `NULL` literal: no type of its own.
    Null,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Bool => "a bool",
            Ty::Int => "an integer",
            Ty::Float => "a float",
            Ty::Time => "a date-time",
            Ty::Interval => "an interval",
            Ty::Str => "a string",
            Ty::Null => "NULL",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
}

/// A constant.
#[derive(Clone, Debug)]
pub(super) enum Val {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

/// The values of an `IN` list, by the type they are looked up as.
#[derive(Clone, Debug)]
pub(super) enum InSet {
    /// Integers, times and intervals; floats with a fraction (or infinite) kept apart, sorted.
    Numbers {
        ints: HashSet<i128>,
        floats: Vec<f64>,
    },
    Strs(HashSet<String>),
    Bools([bool; 2]),
}

/// A bound expression.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Lit(Val, Ty),
    /// Column `i` of the filter's columns, read as `Ty`.
    Column(usize, Ty),
    Neg(Box<Node>, Ty, usize),
    Arith {
        op: BinaryOp,
        l: Box<Node>,
        r: Box<Node>,
        ty: Ty,
        at: usize,
    },
    Cmp {
        op: BinaryOp,
        l: Box<Node>,
        r: Box<Node>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    IsNull {
        x: Box<Node>,
        negated: bool,
    },
    In {
        x: Box<Node>,
        set: InSet,
        has_null: bool,
        negated: bool,
    },
    Like {
        x: Box<Node>,
        pattern: Pattern,
        negated: bool,
    },
    /// A predicate on a categorical column against constants, as a table by code: the
    /// result for a row is `table[code]`, NULL where the row is missing.
    Codes {
        column: usize,
        table: Vec<Option<bool>>,
    },
}

impl Node {
    pub(super) fn ty(&self) -> Ty {
        match self {
            Node::Lit(_, t) | Node::Column(_, t) | Node::Neg(_, t, _) => *t,
            Node::Arith { ty, .. } => *ty,
            _ => Ty::Bool,
        }
    }
}

pub(super) struct Binder<'a> {
    dataset: &'a Dataset,
    text: &'a str,
    columns: Vec<ColumnData>,
    names: Vec<String>,
    depth: usize,
}

/// Where `e` starts in the text: its leftmost name or value.
pub(super) fn start(e: &Expr) -> usize {
    let mut e = e;
    loop {
        e = match e {
            Expr::Column { at, .. } | Expr::Literal { at, .. } => return *at,
            Expr::Not(x) | Expr::Negate(x) => x,
            Expr::Binary { left, .. } => left,
            Expr::In { expr, .. }
            | Expr::Between { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::Like { expr, .. } => expr,
        };
    }
}

impl<'a> Binder<'a> {
    pub(super) fn new(dataset: &'a Dataset, text: &'a str) -> Binder<'a> {
        Binder { dataset, text, columns: Vec::new(), names: Vec::new(), depth: 0 }
    }

    pub(super) fn into_columns(self) -> Vec<ColumnData> {
        self.columns
    }

    fn error(&self, at: usize, reason: &str) -> Error {
        expr::error_at(self.text, at, reason)
    }

    /// The whole expression, which must be a condition.
    pub(super) fn condition(&mut self, e: &Expr) -> Result<Node> {
        // Checked before binding (and evaluating), which recurse once a level.
        if let Some(at) = too_deep(e) {
            return Err(
                self.error(at, &format!("nested more than {MAX_BOUND_DEPTH} operators deep"))
            );
        }
        let n = self.bind(e)?;
        match n.ty() {
            Ty::Bool | Ty::Null => Ok(n),
            t => Err(self.error(
                start(e),
                &format!("this is {}, not a condition (compare it with something)", t.name()),
            )),
        }
    }

    fn bind(&mut self, e: &Expr) -> Result<Node> {
        self.depth += 1;
        if self.depth > MAX_BOUND_DEPTH {
            return Err(
                self.error(start(e), &format!("nested more than {MAX_BOUND_DEPTH} operators deep"))
            );
        }
        let n = self.bind_inner(e);
        self.depth -= 1;
        n
    }

    fn bind_inner(&mut self, e: &Expr) -> Result<Node> {
        Ok(match e {
            Expr::Column { name, at } => self.column(name, *at)?,
            Expr::Literal { value, at } => literal(value, *at),
            Expr::Not(x) => Node::Not(Box::new(self.bool_operand(x, "NOT")?)),
            Expr::Negate(x) => {
                let n = self.bind(x)?;
                match n.ty() {
                    Ty::Int | Ty::Float | Ty::Interval | Ty::Null => {
                        let t = n.ty();
                        Node::Neg(Box::new(n), t, start(x))
                    }
                    t => return Err(self.error(start(x), &format!("cannot negate {}", t.name()))),
                }
            }
            Expr::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), .. } => self.chain(e, *op)?,
            Expr::Binary { op, left, right } if op.is_comparison() => {
                self.compare(*op, left, right)?
            }
            Expr::Binary { op, left, right } => self.arith(*op, left, right)?,
            Expr::IsNull { expr, negated } => {
                Node::IsNull { x: Box::new(self.bind(expr)?), negated: *negated }
            }
            Expr::Between { expr, low, high, negated } => {
                let both = Node::And(vec![
                    self.compare(BinaryOp::Ge, expr, low)?,
                    self.compare(BinaryOp::Le, expr, high)?,
                ]);
                if *negated { Node::Not(Box::new(both)) } else { both }
            }
            Expr::In { expr, list, negated } => self.in_list(expr, list, *negated)?,
            Expr::Like { expr, pattern, negated } => {
                let x = self.bind(expr)?;
                let pattern = Pattern::new(pattern);
                match x.ty() {
                    Ty::Str | Ty::Null => {}
                    t => {
                        return Err(self.error(
                            start(expr),
                            &format!("LIKE matches strings, and this is {}", t.name()),
                        ));
                    }
                }
                if let Some(c) = self.categorical(&x) {
                    let table =
                        self.labels(c)?.iter().map(|l| Some(pattern.matches(l) != *negated));
                    return Ok(Node::Codes { column: c, table: table.collect() });
                }
                Node::Like { x: Box::new(x), pattern, negated: *negated }
            }
        })
    }

    /// `a AND b AND …` (or OR) as one node, walking the chain in a loop: a long flat chain
    /// is not nesting.
    fn chain(&mut self, e: &Expr, op: BinaryOp) -> Result<Node> {
        let mut rights = Vec::new();
        let mut e = e;
        while let Expr::Binary { op: o, left, right } = e
            && *o == op
        {
            rights.push(right.as_ref());
            e = left;
        }
        rights.push(e);
        let mut parts = Vec::with_capacity(rights.len());
        for x in rights.into_iter().rev() {
            parts.push(self.bool_operand(x, op.symbol())?);
        }
        Ok(if op == BinaryOp::And { Node::And(parts) } else { Node::Or(parts) })
    }

    fn bool_operand(&mut self, e: &Expr, what: &str) -> Result<Node> {
        let n = self.bind(e)?;
        match n.ty() {
            Ty::Bool | Ty::Null => Ok(n),
            t => {
                Err(self
                    .error(start(e), &format!("{what} takes conditions, and this is {}", t.name())))
            }
        }
    }

    fn column(&mut self, name: &str, at: usize) -> Result<Node> {
        let i = if let Some(i) = self.names.iter().position(|n| n == name) {
            i
        } else {
            let column = self.dataset.column(name).map_err(|e| self.error(at, &e.to_string()))?;
            self.columns.push(column.data()?);
            self.names.push(name.to_string());
            self.columns.len() - 1
        };
        let ty = match &self.columns[i] {
            ColumnData::Number(Numbers::F16(_) | Numbers::F32(_) | Numbers::F64(_)) => Ty::Float,
            ColumnData::Number(_) => Ty::Int,
            ColumnData::Bool(_) => Ty::Bool,
            ColumnData::DateTime(_) => Ty::Time,
            ColumnData::String(_) | ColumnData::Categorical(_) => Ty::Str,
        };
        Ok(Node::Column(i, ty))
    }

    /// The column index when `n` is a categorical column.
    fn categorical(&self, n: &Node) -> Option<usize> {
        match n {
            Node::Column(i, _) if matches!(self.columns[*i], ColumnData::Categorical(_)) => {
                Some(*i)
            }
            _ => None,
        }
    }

    fn labels(&self, column: usize) -> Result<&[String]> {
        match &self.columns[column] {
            ColumnData::Categorical(c) => Ok(c.categories()),
            _ => Err(Error::internal("labels of a column that is not categorical")),
        }
    }

    /// `label` must be one of the categorical's categories.
    fn known_label(&self, column: usize, label: &str, at: usize) -> Result<()> {
        let labels = self.labels(column)?;
        if labels.iter().any(|l| l == label) {
            return Ok(());
        }
        let some: Vec<String> = labels.iter().take(10).map(|l| format!("'{l}'")).collect();
        let more = if labels.len() > 10 {
            format!(", … ({} in all)", labels.len())
        } else {
            String::new()
        };
        Err(self.error(
            at,
            &format!(
                "no category '{label}' in column {:?} (its categories: {}{more})",
                self.names[column],
                some.join(", ")
            ),
        ))
    }

    fn compare(&mut self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Node> {
        let mut l = self.bind(left)?;
        let mut r = self.bind(right)?;
        // A string literal against a date-time is read as a timestamp, as pandas does.
        l = self.as_time_if(l, r.ty(), left)?;
        r = self.as_time_if(r, l.ty(), right)?;
        let (lt, rt) = (l.ty(), r.ty());
        let ok = lt == Ty::Null || rt == Ty::Null || lt == rt || (lt.numeric() && rt.numeric());
        if !ok {
            return Err(self.error(
                start(right),
                &format!("cannot compare {} with {} ({})", lt.name(), rt.name(), op.symbol()),
            ));
        }
        // A categorical against a label: a table by code.
        let pair = match (self.categorical(&l), &r, self.categorical(&r), &l) {
            (Some(c), Node::Lit(Val::Str(s), _), _, _) => Some((c, s.clone(), op, right)),
            (_, _, Some(c), Node::Lit(Val::Str(s), _)) => Some((c, s.clone(), op.flipped(), left)),
            _ => None,
        };
        if let Some((c, label, op, lit)) = pair {
            if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                self.known_label(c, &label, start(lit))?;
            }
            let table = self
                .labels(c)?
                .iter()
                .map(|l| Some(super::eval::holds(op, Some(l.as_str().cmp(label.as_str())))));
            return Ok(Node::Codes { column: c, table: table.collect() });
        }
        Ok(Node::Cmp { op, l: Box::new(l), r: Box::new(r) })
    }

    fn as_time_if(&self, n: Node, other: Ty, e: &Expr) -> Result<Node> {
        match n {
            Node::Lit(Val::Str(s), _) if other == Ty::Time => match expr::parse_timestamp(&s) {
                Ok(ns) => Ok(Node::Lit(Val::Int(i128::from(ns)), Ty::Time)),
                Err(why) => Err(self.error(start(e), &format!("'{s}': {why}"))),
            },
            n => Ok(n),
        }
    }

    fn arith(&mut self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Node> {
        use BinaryOp::{Add, Div, Mul, Sub};
        let l = self.bind(left)?;
        let r = self.bind(right)?;
        // '2026-01-01' - 1h: a string beside an interval is a timestamp.
        let as_time = |t: Ty| if t == Ty::Interval { Ty::Time } else { t };
        let l = self.as_time_if(l, as_time(r.ty()), left)?;
        let r = self.as_time_if(r, as_time(l.ty()), right)?;
        let (lt, rt) = (l.ty(), r.ty());
        let ty = match (op, lt, rt) {
            (_, Ty::Null, _) | (_, _, Ty::Null) => Ty::Null,
            (Div, a, b) if a.numeric() && b.numeric() => Ty::Float,
            (_, Ty::Int, Ty::Int) => Ty::Int,
            (_, a, b) if a.numeric() && b.numeric() => Ty::Float,
            (Add | Sub, Ty::Time, Ty::Interval) | (Add, Ty::Interval, Ty::Time) => Ty::Time,
            (Sub, Ty::Time, Ty::Time)
            | (Add | Sub, Ty::Interval, Ty::Interval)
            | (Mul, Ty::Interval, Ty::Int)
            | (Mul, Ty::Int, Ty::Interval) => Ty::Interval,
            _ => {
                return Err(self.error(
                    start(right),
                    &format!("cannot apply {} to {} and {}", op.symbol(), lt.name(), rt.name()),
                ));
            }
        };
        Ok(Node::Arith { op, l: Box::new(l), r: Box::new(r), ty, at: start(right) })
    }

    fn in_list(&mut self, e: &Expr, list: &[(Literal, usize)], negated: bool) -> Result<Node> {
        let x = self.bind(e)?;
        let xt = x.ty();
        let mut has_null = false;
        let (mut ints, mut floats, mut strs, mut bools) =
            (HashSet::new(), Vec::new(), HashSet::new(), [false; 2]);
        for (v, at) in list {
            let mismatch =
                |what: &str| self.error(*at, &format!("IN list of {}: this is {what}", xt.name()));
            match (xt, v) {
                (_, Literal::Null) => has_null = true,
                (Ty::Null, _) => {}
                (Ty::Int | Ty::Float, Literal::Int(i)) => {
                    ints.insert(i128::from(*i));
                }
                (Ty::Int | Ty::Float, Literal::UInt(u)) => {
                    ints.insert(i128::from(*u));
                }
                (Ty::Int | Ty::Float, Literal::Float(f)) => match whole(*f) {
                    Some(i) => {
                        ints.insert(i);
                    }
                    None if f.is_nan() => {}
                    None => floats.push(*f),
                },
                (Ty::Time, Literal::Time(t)) | (Ty::Interval, Literal::Interval(t)) => {
                    ints.insert(i128::from(*t));
                }
                (Ty::Time, Literal::Str(s)) => {
                    let t = expr::parse_timestamp(s)
                        .map_err(|why| self.error(*at, &format!("'{s}': {why}")))?;
                    ints.insert(i128::from(t));
                }
                (Ty::Str, Literal::Str(s)) => {
                    if let Some(c) = self.categorical(&x) {
                        self.known_label(c, s, *at)?;
                    }
                    strs.insert(s.clone());
                }
                (Ty::Bool, Literal::Bool(b)) => bools[usize::from(*b)] = true,
                (_, v) => return Err(mismatch(literal(v, *at).ty().name())),
            }
        }
        floats.sort_by(f64::total_cmp);
        if let Some(c) = self.categorical(&x) {
            let table = self.labels(c)?.iter().map(|l| {
                let hit = strs.contains(l.as_str());
                // x IN (…, NULL) is NULL, not FALSE, when x is none of the values.
                if hit {
                    Some(!negated)
                } else if has_null {
                    None
                } else {
                    Some(negated)
                }
            });
            return Ok(Node::Codes { column: c, table: table.collect() });
        }
        let set = match xt {
            Ty::Str => InSet::Strs(strs),
            Ty::Bool => InSet::Bools(bools),
            _ => InSet::Numbers { ints, floats },
        };
        Ok(Node::In { x: Box::new(x), set, has_null, negated })
    }
}

/// Where `e` is nested deeper than [`MAX_BOUND_DEPTH`], counting a flat `AND`/`OR` chain as
/// one level as binding does; found in a loop, not by recursion.
fn too_deep(e: &Expr) -> Option<usize> {
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        if d > MAX_BOUND_DEPTH {
            return Some(start(e));
        }
        match e {
            Expr::Column { .. } | Expr::Literal { .. } => {}
            Expr::Not(x) | Expr::Negate(x) => stack.push((x, d + 1)),
            Expr::Binary { op, left, right } => {
                let same = matches!(op, BinaryOp::And | BinaryOp::Or)
                    && matches!(left.as_ref(), Expr::Binary { op: o, .. } if o == op);
                stack.push((left, if same { d } else { d + 1 }));
                stack.push((right, d + 1));
            }
            Expr::In { expr, .. } | Expr::IsNull { expr, .. } | Expr::Like { expr, .. } => {
                stack.push((expr, d + 1));
            }
            Expr::Between { expr, low, high, .. } => {
                stack.extend([(expr.as_ref(), d + 2), (low, d + 2), (high, d + 2)]);
            }
        }
    }
    None
}

/// `f` as an integer when it is a whole number in `i128`'s range.
pub(super) fn whole(f: f64) -> Option<i128> {
    #[allow(clippy::cast_possible_truncation)]
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1.0e38).then_some(f as i128)
}

fn literal(v: &Literal, _at: usize) -> Node {
    match v {
        Literal::Null => Node::Lit(Val::Null, Ty::Null),
        Literal::Bool(b) => Node::Lit(Val::Bool(*b), Ty::Bool),
        Literal::Int(i) => Node::Lit(Val::Int(i128::from(*i)), Ty::Int),
        Literal::UInt(u) => Node::Lit(Val::Int(i128::from(*u)), Ty::Int),
        Literal::Float(f) => Node::Lit(Val::Float(*f), Ty::Float),
        Literal::Str(s) => Node::Lit(Val::Str(s.clone()), Ty::Str),
        Literal::Time(t) => Node::Lit(Val::Int(i128::from(*t)), Ty::Time),
        Literal::Interval(t) => Node::Lit(Val::Int(i128::from(*t)), Ty::Interval),
    }
}
