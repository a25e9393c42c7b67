//! The tokens of a `--where` expression.

use super::{BinaryOp, Literal, error_at};
use crate::dtype::parse_duration;
use crate::error::Result;

/// Words with a meaning of their own; any other word is a column name.
const KEYWORDS: [&str; 12] =
    ["AND", "OR", "NOT", "IN", "BETWEEN", "IS", "NULL", "LIKE", "TRUE", "FALSE", "NAN", "INF"];
/// Words that are keywords only before a quoted value (`DATE '2026-01-01'`), so that the
/// columns `date` or `interval` need no quotes.
const TYPE_WORDS: [&str; 3] = ["TIMESTAMP", "DATE", "INTERVAL"];

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Name(String),
    /// A name in double quotes or backticks.
    Quoted(String),
    /// A value in single quotes.
    Str(String),
    Number(Literal),
    Keyword(&'static str),
    Cmp(BinaryOp),
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Open,
    Close,
    Comma,
    End,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Byte offset of its first character.
    pub(super) at: usize,
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    peeked: Option<Token>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0, peeked: None }
    }

    pub(super) fn peek(&mut self) -> Result<Token> {
        if self.peeked.is_none() {
            self.peeked = Some(self.scan()?);
        }
        Ok(self.peeked.clone().unwrap_or(Token { tok: Tok::End, at: self.text.len() }))
    }

    pub(super) fn next(&mut self) -> Result<Token> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.scan(),
        }
    }

    /// Consumes the keyword `k` if it is next.
    pub(super) fn eat_keyword(&mut self, k: &str) -> Result<bool> {
        if matches!(self.peek()?.tok, Tok::Keyword(w) if w == k) {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn scan(&mut self) -> Result<Token> {
        let skipped = self.rest().len() - self.rest().trim_start().len();
        self.pos += skipped;
        let at = self.pos;
        let Some(c) = self.rest().chars().next() else {
            return Ok(Token { tok: Tok::End, at });
        };
        let two = self.rest().get(..2).unwrap_or("");
        let (tok, len) = match (c, two) {
            (_, "<=") => (Tok::Cmp(BinaryOp::Le), 2),
            (_, ">=") => (Tok::Cmp(BinaryOp::Ge), 2),
            (_, "!=" | "<>") => (Tok::Cmp(BinaryOp::Ne), 2),
            (_, "==") => (Tok::Cmp(BinaryOp::Eq), 2),
            ('=', _) => (Tok::Cmp(BinaryOp::Eq), 1),
            ('<', _) => (Tok::Cmp(BinaryOp::Lt), 1),
            ('>', _) => (Tok::Cmp(BinaryOp::Gt), 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('%', _) => (Tok::Percent, 1),
            ('(', _) => (Tok::Open, 1),
            (')', _) => (Tok::Close, 1),
            (',', _) => (Tok::Comma, 1),
            ('\'', _) => return self.quoted('\'', at).map(|s| Token { tok: Tok::Str(s), at }),
            ('"' | '`', _) => {
                let name = self.quoted(c, at)?;
                if name.is_empty() {
                    return Err(error_at(self.text, at, "an empty column name"));
                }
                return Ok(Token { tok: Tok::Quoted(name), at });
            }
            (c, _) if c.is_ascii_digit() || (c == '.' && self.digit_after(1)) => {
                return self.number(at);
            }
            (c, _) if c.is_alphabetic() || c == '_' => return Ok(self.word(at)),
            (c, _) => {
                return Err(error_at(self.text, at, &format!("unexpected character {c:?}")));
            }
        };
        self.pos += len;
        Ok(Token { tok, at })
    }

    fn digit_after(&self, n: usize) -> bool {
        self.rest().as_bytes().get(n).is_some_and(u8::is_ascii_digit)
    }

    /// Text up to the closing `quote`, a doubled quote standing for one.
    fn quoted(&mut self, quote: char, at: usize) -> Result<String> {
        let mut out = String::new();
        let mut chars = self.text[at + 1..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                if chars.peek().is_some_and(|&(_, n)| n == quote) {
                    chars.next();
                    out.push(quote);
                    continue;
                }
                self.pos = at + 1 + i + 1;
                return Ok(out);
            }
            out.push(c);
        }
        Err(error_at(self.text, at, &format!("this {quote} is never closed")))
    }

    fn word(&mut self, at: usize) -> Token {
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(self.rest().len());
        let word = &self.text[at..at + len];
        self.pos += len;
        let upper = word.to_ascii_uppercase();
        if TYPE_WORDS.contains(&upper.as_str()) {
            // A keyword only before a quoted value.
            let next = self.rest().trim_start();
            if next.starts_with('\'') {
                let k = TYPE_WORDS.into_iter().find(|k| *k == upper).unwrap_or("TIMESTAMP");
                return Token { tok: Tok::Keyword(k), at };
            }
            return Token { tok: Tok::Name(word.to_string()), at };
        }
        match KEYWORDS.into_iter().find(|k| *k == upper) {
            Some(k) => Token { tok: Tok::Keyword(k), at },
            None => Token { tok: Tok::Name(word.to_string()), at },
        }
    }

    /// A number, or a number with a unit (`90min`, `1h30min`): an interval.
    fn number(&mut self, at: usize) -> Result<Token> {
        let b = self.rest().as_bytes();
        let mut i = 0;
        let digits = |i: &mut usize| {
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
        };
        digits(&mut i);
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            float = true;
            i += 1;
            digits(&mut i);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
            if b.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
                float = true;
                i += 1 + sign;
                digits(&mut i);
            }
        }
        let unit_follows =
            self.rest()[i..].chars().next().is_some_and(|c| c.is_alphabetic() || c == '_');
        if unit_follows {
            // An interval shorthand: digits and unit names up to the end of the word.
            let len = self.rest()[i..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(self.rest().len(), |n| i + n);
            let word = &self.text[at..at + len];
            self.pos += len;
            if float {
                return Err(error_at(
                    self.text,
                    at,
                    &format!("{word}: an interval is whole units"),
                ));
            }
            let ns = parse_duration(word).map_err(|why| error_at(self.text, at, &why))?;
            return Ok(Token { tok: Tok::Number(Literal::Interval(ns)), at });
        }
        let word = &self.text[at..at + i];
        self.pos += i;
        let value = if float {
            Literal::Float(word.parse().map_err(|_| error_at(self.text, at, "not a number"))?)
        } else if let Ok(v) = word.parse::<i64>() {
            Literal::Int(v)
        } else if let Ok(v) = word.parse::<u64>() {
            Literal::UInt(v)
        } else {
            // As numpy and pandas read a whole number past u64: a float.
            Literal::Float(word.parse().map_err(|_| error_at(self.text, at, "not a number"))?)
        };
        Ok(Token { tok: Tok::Number(value), at })
    }
}
