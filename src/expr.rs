//! Row filters as text: the subset of SQL's `WHERE` that `--where` takes, parsed into an
//! [`Expr`] tree with the position of every name and value, so that a later check (an
//! unknown column, a label a categorical does not have) can point at it.
//!
//! The grammar, loosest binding first:
//!
//! ```text
//! expr       = or
//! or         = and { OR and }
//! and        = not { AND not }
//! not        = NOT not | predicate
//! predicate  = sum [ cmp sum
//!                  | [NOT] IN ( value { , value } )
//!                  | [NOT] BETWEEN sum AND sum
//!                  | IS [NOT] NULL
//!                  | [NOT] LIKE 'pattern' ]
//! cmp        = = | == | != | <> | < | <= | > | >=
//! sum        = product { (+ | -) product }
//! product    = unary { (* | / | %) unary }
//! unary      = - unary | + unary | atom
//! atom       = column | value | ( expr )
//! column     = name | "any name" | `any name`
//! value      = number | 'text' | TRUE | FALSE | NULL | NAN | INF
//!            | TIMESTAMP 'iso' | DATE 'iso' | INTERVAL '1h30min' | number unit (2h, 15min)
//! ```
//!
//! Keywords are case-insensitive; a name that is also a keyword is written quoted. A bad
//! expression is an [`Error::Argument`] that quotes it and marks the character where it
//! went wrong. Nesting deeper than [`MAX_DEPTH`] and expressions longer than [`MAX_LEN`]
//! bytes are refused, so that no input can exhaust the stack or take long to parse.

use std::fmt;
use std::str::FromStr;

use crate::dtype::parse_duration;
use crate::error::{Error, Result};

mod lex;

use lex::{Lexer, Tok, Token};

/// The deepest nesting of parentheses and operators an expression may have.
pub const MAX_DEPTH: usize = 64;
/// The longest expression, in bytes.
pub const MAX_LEN: usize = 1 << 20;

/// A value written in an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `NULL`.
    Null,
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// A whole number that fits `i64`.
    Int(i64),
    /// A whole number above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// A number with a fraction or an exponent, one too large for `u64`, `NAN` or `INF`.
    Float(f64),
    /// `'text'` (a doubled `''` is one quote).
    Str(String),
    /// `TIMESTAMP '2026-01-01 10:00'` (UTC when it names no offset) or `DATE '2026-01-01'`
    /// (its midnight, UTC): nanoseconds since 1970-01-01T00:00Z.
    Time(i64),
    /// `INTERVAL '1h30min'` or `90min`: nanoseconds.
    Interval(i64),
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// How the operator is written.
    pub const fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Whether it compares two values (and gives a bool).
    pub const fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// The operator that holds with the operands swapped: `a < b` is `b > a`; the others are
    /// their own.
    #[must_use]
    pub const fn flipped(self) -> BinaryOp {
        match self {
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::Le => BinaryOp::Ge,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::Ge => BinaryOp::Le,
            other => other,
        }
    }
}

/// A parsed filter. `at` fields are byte offsets into the text it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A column, by the name the user gave.
    Column {
        /// The name, unquoted.
        name: String,
        /// Where it starts.
        at: usize,
    },
    /// A value.
    Literal {
        /// The value.
        value: Literal,
        /// Where it starts.
        at: usize,
    },
    /// `NOT e`.
    Not(Box<Expr>),
    /// `-e`.
    Negate(Box<Expr>),
    /// `left op right`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Its left operand.
        left: Box<Expr>,
        /// Its right operand.
        right: Box<Expr>,
    },
    /// `e [NOT] IN (v, …)`: values only.
    In {
        /// What is looked up.
        expr: Box<Expr>,
        /// The values, with where each starts.
        list: Vec<(Literal, usize)>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `e [NOT] BETWEEN low AND high` (both ends included).
    Between {
        /// What is compared.
        expr: Box<Expr>,
        /// The lower end.
        low: Box<Expr>,
        /// The upper end.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `e IS [NOT] NULL`.
    IsNull {
        /// What is tested.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `e [NOT] LIKE 'pattern'`: `%` any run of characters, `_` one character.
    Like {
        /// What is matched.
        expr: Box<Expr>,
        /// The pattern as written.
        pattern: String,
        /// `NOT LIKE`.
        negated: bool,
    },
}

impl Expr {
    /// The columns the expression names, each once, in order of first use.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Column { name, .. } = e
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        });
        out
    }

    /// Calls `f` on this node and every node below it, parents first and left to right.
    /// Iterative: a flat chain of 10,000 `OR` terms is a tree that deep.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            match e {
                Expr::Column { .. } | Expr::Literal { .. } => {}
                Expr::Not(e) | Expr::Negate(e) => stack.push(e),
                Expr::Binary { left, right, .. } => stack.extend([&**right, &**left]),
                Expr::In { expr, .. } | Expr::IsNull { expr, .. } | Expr::Like { expr, .. } => {
                    stack.push(expr);
                }
                Expr::Between { expr, low, high, .. } => {
                    stack.extend([&**high, &**low, &**expr]);
                }
            }
        }
    }
}

impl FromStr for Expr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Expr> {
        parse(s)
    }
}

/// Parses a filter (see the module docs for the grammar).
///
/// ```
/// use larder::expr::{parse, BinaryOp, Expr};
/// let e = parse("region = 'eu-west' AND latency > 2.5")?;
/// assert_eq!(e.columns(), ["region", "latency"]);
/// assert!(matches!(e, Expr::Binary { op: BinaryOp::And, .. }));
/// let bad = parse("status >= AND x").unwrap_err().to_string();
/// assert!(bad.contains("expected a column, a value or"), "{bad}");
/// # Ok::<(), larder::Error>(())
/// ```
///
/// # Errors
/// [`Error::Argument`] quoting the expression with the failing character marked.
pub fn parse(text: &str) -> Result<Expr> {
    if text.len() > MAX_LEN {
        return Err(Error::argument(format!(
            "bad filter: the expression is {} bytes long; at most {MAX_LEN} are read",
            text.len()
        )));
    }
    let mut p = Parser { text, lex: Lexer::new(text), depth: 0 };
    let e = p.expr(OR)?;
    let t = p.lex.peek()?;
    if t.tok != Tok::End {
        return Err(p.error(t.at, "expected AND, OR or the end of the expression"));
    }
    Ok(e)
}

/// An error at byte `at` of `text`: the reason, then the expression with the spot marked.
pub fn error_at(text: &str, at: usize, reason: &str) -> Error {
    // The mark goes under the character, counted in characters, on the line it is on.
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let column = text[line_start..at].chars().count();
    let line: String =
        text[line_start..line_end].chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    Error::argument(format!(
        "bad filter: {reason} (at character {})\n  {line}\n  {}^",
        text[..at].chars().count() + 1,
        " ".repeat(column)
    ))
}

struct Parser<'a> {
    text: &'a str,
    lex: Lexer<'a>,
    depth: usize,
}

/// Binding powers, loosest first: what an operator of each level takes as its operands.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
/// Comparisons, `IS`, `IN`, `BETWEEN` and `LIKE`: they do not chain.
const PREDICATE: u8 = 4;
const SUM: u8 = 5;
const PRODUCT: u8 = 6;
const UNARY: u8 = 7;

/// The binding power of `tok` after an operand, if it continues the expression.
fn infix_power(tok: &Tok) -> Option<u8> {
    Some(match tok {
        Tok::Keyword("OR") => OR,
        Tok::Keyword("AND") => AND,
        Tok::Cmp(_) | Tok::Keyword("IS" | "IN" | "BETWEEN" | "LIKE" | "NOT") => PREDICATE,
        Tok::Plus | Tok::Minus => SUM,
        Tok::Star | Tok::Slash | Tok::Percent => PRODUCT,
        _ => return None,
    })
}

impl Parser<'_> {
    fn error(&self, at: usize, reason: &str) -> Error {
        error_at(self.text, at, reason)
    }

    /// Runs `f` one level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested(&mut self, at: usize, f: impl FnOnce(&mut Self) -> Result<Expr>) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(at, &format!("nested more than {MAX_DEPTH} deep")));
        }
        let e = f(self);
        self.depth -= 1;
        e
    }

    /// An expression of operators binding at least as tightly as `min` (Pratt's method: one
    /// loop per level of parentheses, so nesting costs two stack frames a level).
    fn expr(&mut self, min: u8) -> Result<Expr> {
        let mut left = self.prefix()?;
        let mut predicate_at: Option<usize> = None;
        loop {
            let t = self.lex.peek()?;
            let Some(power) = infix_power(&t.tok) else { return Ok(left) };
            if power < min {
                return Ok(left);
            }
            if power == PREDICATE {
                if predicate_at.is_some() {
                    return Err(self.error(t.at, "comparisons do not chain; join them with AND"));
                }
                predicate_at = Some(t.at);
                left = self.predicate(left)?;
                continue;
            }
            self.lex.next()?;
            let op = match t.tok {
                Tok::Keyword("OR") => BinaryOp::Or,
                Tok::Keyword("AND") => BinaryOp::And,
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                _ => BinaryOp::Rem,
            };
            // Left-associative: the right operand binds tighter than this operator.
            let right = self.expr(power + 1)?;
            if power <= AND {
                predicate_at = None;
            }
            left = Expr::Binary { op, left: Box::new(left), right: Box::new(right) };
        }
    }

    /// What follows `left` at the predicate level: a comparison, `IS [NOT] NULL`,
    /// `[NOT] IN (…)`, `[NOT] BETWEEN … AND …` or `[NOT] LIKE '…'`.
    fn predicate(&mut self, left: Expr) -> Result<Expr> {
        let t = self.lex.next()?;
        let left = Box::new(left);
        if let Tok::Cmp(op) = t.tok {
            let right = Box::new(self.expr(SUM)?);
            return Ok(Expr::Binary { op, left, right });
        }
        if t.tok == Tok::Keyword("IS") {
            let negated = self.lex.eat_keyword("NOT")?;
            if !self.lex.eat_keyword("NULL")? {
                let at = self.lex.peek()?.at;
                return Err(self.error(at, "expected NULL after IS [NOT]"));
            }
            return Ok(Expr::IsNull { expr: left, negated });
        }
        let negated = t.tok == Tok::Keyword("NOT");
        let what = if negated { self.lex.next()? } else { t.clone() };
        match what.tok {
            Tok::Keyword("IN") => self.in_list(left, negated),
            Tok::Keyword("BETWEEN") => {
                let low = Box::new(self.expr(SUM)?);
                if !self.lex.eat_keyword("AND")? {
                    let at = self.lex.peek()?.at;
                    return Err(self.error(at, "expected AND between the two ends of BETWEEN"));
                }
                let high = Box::new(self.expr(SUM)?);
                Ok(Expr::Between { expr: left, low, high, negated })
            }
            Tok::Keyword("LIKE") => {
                let p = self.lex.next()?;
                let Tok::Str(pattern) = p.tok else {
                    return Err(self.error(p.at, "expected a quoted pattern after LIKE"));
                };
                Ok(Expr::Like { expr: left, pattern, negated })
            }
            _ => Err(self.error(t.at, "expected IN, BETWEEN or LIKE after NOT")),
        }
    }

    fn in_list(&mut self, left: Box<Expr>, negated: bool) -> Result<Expr> {
        let t = self.lex.next()?;
        if t.tok != Tok::Open {
            return Err(self.error(t.at, "expected '(' and a list of values after IN"));
        }
        let mut list = Vec::new();
        loop {
            let at = self.lex.peek()?.at;
            let value = match self.expr(SUM)? {
                Expr::Literal { value, .. } => value,
                Expr::Negate(e) => match *e {
                    Expr::Literal { value, .. } => negate(&value)
                        .ok_or_else(|| self.error(at, "this value cannot be negated"))?,
                    _ => return Err(self.error(at, "IN lists hold values, not columns")),
                },
                _ => return Err(self.error(at, "IN lists hold values, not columns")),
            };
            list.push((value, at));
            let t = self.lex.next()?;
            match t.tok {
                Tok::Comma => {}
                Tok::Close => break,
                _ => return Err(self.error(t.at, "expected ',' or ')' in the IN list")),
            }
        }
        Ok(Expr::In { expr: left, list, negated })
    }

    /// An operand: a column, a value, a parenthesised expression, or `NOT`, `-` or `+`
    /// before one.
    fn prefix(&mut self) -> Result<Expr> {
        let Token { tok, at } = self.lex.next()?;
        let value = |value| Ok(Expr::Literal { value, at });
        match tok {
            Tok::Open => self.nested(at, |p| {
                let e = p.expr(OR)?;
                let t = p.lex.next()?;
                if t.tok != Tok::Close {
                    return Err(p.error(t.at, "expected ')'"));
                }
                Ok(e)
            }),
            // NOT takes a predicate (`NOT a = 1` is `NOT (a = 1)`), not an AND.
            Tok::Keyword("NOT") => self.nested(at, |p| Ok(Expr::Not(Box::new(p.expr(NOT)?)))),
            Tok::Minus => self.nested(at, |p| Ok(Expr::Negate(Box::new(p.expr(UNARY)?)))),
            Tok::Plus => self.nested(at, |p| p.expr(UNARY)),
            Tok::Name(name) | Tok::Quoted(name) => Ok(Expr::Column { name, at }),
            Tok::Str(s) => value(Literal::Str(s)),
            Tok::Number(n) => value(n),
            Tok::Keyword(k) => match k {
                "NULL" => value(Literal::Null),
                "TRUE" => value(Literal::Bool(true)),
                "FALSE" => value(Literal::Bool(false)),
                "NAN" => value(Literal::Float(f64::NAN)),
                "INF" => value(Literal::Float(f64::INFINITY)),
                "TIMESTAMP" | "DATE" | "INTERVAL" => {
                    let t = self.lex.next()?;
                    let Tok::Str(s) = t.tok else {
                        return Err(self.error(t.at, &format!("expected a quoted value after {k}")));
                    };
                    let v = match k {
                        "INTERVAL" => parse_duration(&s).map(Literal::Interval),
                        "DATE" => parse_date(&s).map(Literal::Time),
                        _ => parse_timestamp(&s).map(Literal::Time),
                    };
                    v.map(|v| Expr::Literal { value: v, at })
                        .map_err(|why| self.error(t.at, &format!("{k} '{s}': {why}")))
                }
                _ => Err(self.error(
                    at,
                    &format!(
                        "expected a column, a value or '(', not the keyword {k} (a column of that \
                         name is written \"{k}\")"
                    ),
                )),
            },
            Tok::End => Err(self.error(at, "expected a column, a value or '(' here, at the end")),
            _ => Err(self.error(at, "expected a column, a value or '('")),
        }
    }
}

/// `-value`, for the values that have a negative.
fn negate(v: &Literal) -> Option<Literal> {
    Some(match *v {
        Literal::Int(i) => Literal::Int(i.checked_neg()?),
        Literal::UInt(u) if u == 1 << 63 => Literal::Int(i64::MIN),
        // As numpy negates a value past i64: a float, rounded to the nearest.
        #[allow(clippy::cast_precision_loss)]
        Literal::UInt(u) => Literal::Float(-(u as f64)),
        Literal::Float(f) => Literal::Float(-f),
        Literal::Interval(n) => Literal::Interval(n.checked_neg()?),
        _ => return None,
    })
}

/// A date, `YYYY-MM-DD`: its midnight in UTC, in nanoseconds since 1970.
fn parse_date(s: &str) -> std::result::Result<i64, String> {
    let d: jiff::civil::Date = s.trim().parse().map_err(|e| format!("not a date ({e})"))?;
    in_utc(d.to_datetime(jiff::civil::Time::midnight()))
}

/// A timestamp: ISO 8601 with `T` or a space, an offset or `Z` if it has one (else UTC).
pub(crate) fn parse_timestamp(s: &str) -> std::result::Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return i64::try_from(t.as_nanosecond()).map_err(|_| "out of range".to_string());
    }
    let dt: jiff::civil::DateTime = match s.parse() {
        Ok(dt) => dt,
        Err(e) => match s.parse::<jiff::civil::Date>() {
            Ok(d) => d.to_datetime(jiff::civil::Time::midnight()),
            Err(_) => return Err(format!("not a date and time ({e})")),
        },
    };
    in_utc(dt)
}

fn in_utc(dt: jiff::civil::DateTime) -> std::result::Result<i64, String> {
    let t = jiff::tz::TimeZone::UTC.to_timestamp(dt).map_err(|e| e.to_string())?;
    i64::try_from(t.as_nanosecond())
        .map_err(|_| "outside the years 1677 to 2262 that nanoseconds reach".to_string())
}

impl fmt::Display for Literal {
    /// As it would be written in an expression (times in UTC).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::UInt(u) => write!(f, "{u}"),
            Literal::Float(x) if x.is_nan() => f.write_str("NAN"),
            Literal::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "INF" } else { "-INF" })
            }
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Time(ns) => {
                let t =
                    jiff::Timestamp::from_nanosecond(i128::from(*ns)).map_err(|_| fmt::Error)?;
                write!(f, "TIMESTAMP '{t}'")
            }
            Literal::Interval(ns) => write!(f, "INTERVAL '{ns}ns'"),
        }
    }
}

impl fmt::Display for Expr {
    /// Fully parenthesised, names quoted: the same tree when parsed again.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |n: bool| if n { "NOT " } else { "" };
        match self {
            Expr::Column { name, .. } => write!(f, "\"{}\"", name.replace('"', "\"\"")),
            Expr::Literal { value, .. } => write!(f, "{value}"),
            Expr::Not(e) => write!(f, "(NOT {e})"),
            Expr::Negate(e) => write!(f, "(-{e})"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::In { expr, list, negated } => {
                write!(f, "({expr} {}IN (", not(*negated))?;
                for (i, (v, _)) in list.iter().enumerate() {
                    write!(f, "{}{v}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str("))")
            }
            Expr::Between { expr, low, high, negated } => {
                write!(f, "({expr} {}BETWEEN {low} AND {high})", not(*negated))
            }
            Expr::IsNull { expr, negated } => write!(f, "({expr} IS {}NULL)", not(*negated)),
            Expr::Like { expr, pattern, negated } => {
                write!(f, "({expr} {}LIKE '{}')", not(*negated), pattern.replace('\'', "''"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
