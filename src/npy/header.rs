//! The `.npy` header: parsing and writing, on byte slices.
//!
//! This module knows nothing of files or mappings; [`Header::parse`] takes the first bytes of a
//! file and validates everything a header can get wrong. See `docs/format.md` for the layout.

use std::fmt::Write as _;
use std::path::Path;

use crate::dtype::DType;
use crate::error::Error;

/// The six bytes every `.npy` file starts with.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Data offsets of files larder writes are a multiple of this (numpy's own `ARRAY_ALIGN`).
pub const ALIGN: usize = 64;

/// Digits reserved for axis 0 in headers larder writes, so the shape can be rewritten in place
/// as the array grows: `u64::MAX` has 20 digits.
const GROWTH_DIGITS: usize = 20;

/// A parsed `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Element type and byte order.
    pub dtype: DType,
    /// True when the data is stored column-major (Fortran order).
    pub fortran_order: bool,
    /// The shape; `[]` for a 0-d array.
    pub shape: Vec<usize>,
    /// Format version `(major, minor)`: `(1, 0)`, `(2, 0)` or `(3, 0)`.
    pub version: (u8, u8),
    /// Byte offset of the first data byte (the header's total length).
    pub data_offset: usize,
}

/// A header problem, before the file name is known. Turn it into an [`Error`] with [`at`].
///
/// [`at`]: HeaderError::at
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// Byte offset in the file.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
    /// Set when the header is well formed but its dtype is not supported.
    pub unsupported_descr: Option<String>,
}

impl HeaderError {
    fn new(offset: usize, reason: impl Into<String>) -> Self {
        HeaderError { offset: offset as u64, reason: reason.into(), unsupported_descr: None }
    }

    /// The error, naming the file it came from.
    pub fn at(self, path: impl AsRef<Path>) -> Error {
        match self.unsupported_descr {
            Some(descr) => Error::UnsupportedDType {
                path: path.as_ref().to_path_buf(),
                descr,
                reason: self.reason,
            },
            None => Error::format(path, self.offset, self.reason),
        }
    }
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

impl Header {
    /// A version 1.0 header for a new array (the version is raised on write if needed).
    pub fn new(dtype: DType, shape: &[usize], fortran_order: bool) -> Header {
        Header { dtype, fortran_order, shape: shape.to_vec(), version: (1, 0), data_offset: 0 }
    }

    /// Number of elements, or `None` if the product of the shape overflows `u64`.
    pub fn element_count(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
    }

    /// Bytes of data the shape needs, or `None` on overflow.
    pub fn data_len(&self) -> Option<u64> {
        self.element_count()?.checked_mul(self.dtype.itemsize() as u64)
    }

    /// Parses the header at the start of `buf` (which may hold the whole file or just its first
    /// bytes; at most the header is read).
    ///
    /// Accepts format versions 1.0, 2.0 and 3.0, either quote style, any key order, any amount
    /// of padding, and trailing commas.
    ///
    /// # Errors
    /// A [`HeaderError`] with the byte offset and reason: bad magic, unknown version, header
    /// running past the end of `buf`, a header that is not the expected dict, missing or
    /// unknown keys, negative or overflowing shapes, and unsupported dtypes (named).
    pub fn parse(buf: &[u8]) -> Result<Header, HeaderError> {
        if buf.is_empty() {
            return Err(HeaderError::new(0, "empty file, not a .npy file"));
        }
        if buf.len() < MAGIC.len() || &buf[..MAGIC.len()] != MAGIC {
            return Err(HeaderError::new(0, "not a .npy file (bad magic string)"));
        }
        if buf.len() < 8 {
            return Err(HeaderError::new(6, "file ends inside the format version"));
        }
        let version = (buf[6], buf[7]);
        let (len_bytes, utf8) = match version {
            (1, 0) => (2, false),
            (2, 0) => (4, false),
            (3, 0) => (4, true),
            (a, b) => {
                return Err(HeaderError::new(6, format!("unknown .npy format version {a}.{b}")));
            }
        };
        let start = 8 + len_bytes;
        if buf.len() < start {
            return Err(HeaderError::new(8, "file ends inside the header length"));
        }
        let header_len = if len_bytes == 2 {
            usize::from(u16::from_le_bytes([buf[8], buf[9]]))
        } else {
            u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize
        };
        let end = start + header_len;
        if buf.len() < end {
            return Err(HeaderError::new(
                8,
                format!(
                    "header length {header_len} runs past the end of the file ({} bytes)",
                    buf.len()
                ),
            ));
        }
        let text = &buf[start..end];
        if !utf8 && !text.is_ascii() {
            // Latin-1 is allowed by the format but only ever appears in structured field names,
            // which larder does not support anyway.
            let at = text.iter().position(|b| !b.is_ascii()).unwrap_or(0);
            return Err(HeaderError::new(start + at, "non-ASCII byte in a version 1/2 header"));
        }
        let mut p = Parser { text, pos: 0, base: start };
        let dict = p.dict()?;
        Header::from_dict(dict, start, version, end)
    }

    /// Builds a header from the parsed dict entries, checking keys and values.
    fn from_dict(
        dict: Vec<Entry>,
        start: usize,
        version: (u8, u8),
        end: usize,
    ) -> Result<Header, HeaderError> {
        let mut descr = None;
        let mut fortran = None;
        let mut shape = None;
        for (key, key_at, value, value_at) in dict {
            let slot_taken = match key.as_str() {
                "descr" => descr.replace((value, value_at)).is_some(),
                "fortran_order" => fortran.replace((value, value_at)).is_some(),
                "shape" => shape.replace((value, value_at)).is_some(),
                other => {
                    return Err(HeaderError::new(key_at, format!("unexpected key {other:?}")));
                }
            };
            if slot_taken {
                return Err(HeaderError::new(key_at, format!("key {key:?} appears twice")));
            }
        }
        let missing = |k: &str| HeaderError::new(start, format!("header has no {k:?} key"));
        let (descr, descr_at) = descr.ok_or_else(|| missing("descr"))?;
        let (fortran, fortran_at) = fortran.ok_or_else(|| missing("fortran_order"))?;
        let (shape, shape_at) = shape.ok_or_else(|| missing("shape"))?;

        let dtype = match descr {
            // The reason alone: `UnsupportedDType` prints the typestr before it.
            Value::Str(s) => DType::parse_or_reason(&s).map_err(|why| HeaderError {
                offset: descr_at as u64,
                reason: why.to_string(),
                unsupported_descr: Some(s.clone()),
            })?,
            Value::List => {
                return Err(HeaderError {
                    offset: descr_at as u64,
                    reason:
                        "arrays of records with named fields are not supported; save each field as \
                             its own array"
                            .into(),
                    unsupported_descr: Some("structured".into()),
                });
            }
            _ => return Err(HeaderError::new(descr_at, "'descr' is not a string")),
        };
        let Value::Bool(fortran_order) = fortran else {
            return Err(HeaderError::new(fortran_at, "'fortran_order' is not True or False"));
        };
        let Value::Tuple(dims) = shape else {
            return Err(HeaderError::new(shape_at, "'shape' is not a tuple"));
        };
        crate::limits::check_ndim(dims.len()).map_err(|e| HeaderError::new(shape_at, e))?;
        let mut out = Vec::with_capacity(dims.len());
        for d in dims {
            match d {
                Value::Int(n) if n < 0 => {
                    return Err(HeaderError::new(shape_at, format!("negative dimension {n}")));
                }
                Value::Int(n) => out.push(usize::try_from(n).map_err(|_| {
                    HeaderError::new(shape_at, format!("dimension {n} is too large"))
                })?),
                _ => return Err(HeaderError::new(shape_at, "shape entries must be integers")),
            }
        }
        crate::limits::element_count_usize(&out).map_err(|e| HeaderError::new(shape_at, e))?;
        crate::limits::check_numpy_size(&out, dtype.itemsize())
            .map_err(|e| HeaderError::new(shape_at, e))?;
        let header = Header { dtype, fortran_order, shape: out, version, data_offset: end };
        if header.data_len().is_none() {
            return Err(HeaderError::new(
                shape_at,
                format!("shape {:?} holds more bytes than a 64-bit size can count", header.shape),
            ));
        }
        Ok(header)
    }

    fn dict_text(&self, axis0: Option<usize>) -> String {
        let mut shape = String::from("(");
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                shape.push_str(", ");
            }
            match (i, axis0) {
                (0, Some(width)) => {
                    let _ = write!(shape, "{d:<width$}");
                }
                _ => {
                    let _ = write!(shape, "{d}");
                }
            }
        }
        if self.shape.len() == 1 {
            shape.push(',');
        }
        shape.push(')');
        format!(
            "{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}",
            self.dtype.typestr(),
            if self.fortran_order { "True" } else { "False" },
            shape
        )
    }

    /// The header as bytes, padded so the data that follows starts [`ALIGN`]-aligned, with room
    /// for axis 0 to grow to any 64-bit length without moving the data.
    ///
    /// Writes format 1.0 unless the header is too long for it (then 2.0), as numpy does.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Size the header as if axis 0 had the widest possible value; rewrites then fit.
        let widest = self.dict_text(Some(GROWTH_DIGITS)).len() + 1; // + '\n'
        let v1_total = (10 + widest).div_ceil(ALIGN) * ALIGN;
        let (version, total) = if u16::try_from(v1_total - 10).is_ok() {
            (1, v1_total)
        } else {
            (2, (12 + widest).div_ceil(ALIGN) * ALIGN)
        };
        self.encode(version, total).expect("sized to fit")
    }

    /// The header re-encoded to exactly `total` bytes (the size of an existing header), for
    /// rewriting the shape in place. `None` if it does not fit.
    pub fn to_bytes_in(&self, version: (u8, u8), total: usize) -> Option<Vec<u8>> {
        self.encode(version.0, total)
    }

    fn encode(&self, major: u8, total: usize) -> Option<Vec<u8>> {
        let prefix = if major == 1 { 10 } else { 12 };
        let dict = self.dict_text(None);
        let hlen = total.checked_sub(prefix)?;
        if dict.len() + 1 > hlen {
            return None;
        }
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&u16::try_from(hlen).ok()?.to_le_bytes());
        } else {
            out.extend_from_slice(&u32::try_from(hlen).ok()?.to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(total - 1, b' ');
        out.push(b'\n');
        Some(out)
    }
}

/// A Python literal, as far as `.npy` headers use them.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    Int(i128),
    None,
    Tuple(Vec<Value>),
    List,
    Dict,
}

type Entry = (String, usize, Value, usize);

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    /// Offset of `text` in the file, for error positions.
    base: usize,
}

impl Parser<'_> {
    fn err(&self, reason: impl Into<String>) -> HeaderError {
        HeaderError::new(self.base + self.pos, reason)
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn skip_ws(&mut self) {
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), HeaderError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected '{}'", c as char)))
        }
    }

    fn dict(&mut self) -> Result<Vec<Entry>, HeaderError> {
        if self.peek() != Some(b'{') {
            return Err(self.err("header is not a Python dict"));
        }
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let key_at = self.at();
            let Value::Str(key) = self.value(0)? else {
                return Err(HeaderError::new(key_at, "dict keys must be strings"));
            };
            self.expect(b':')?;
            self.skip_ws();
            let value_at = self.at();
            let value = self.value(0)?;
            entries.push((key, key_at, value, value_at));
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.err("expected ',' or '}' in header dict")),
            }
        }
        if self.peek().is_some() {
            return Err(self.err("unexpected text after the header dict"));
        }
        Ok(entries)
    }

    fn value(&mut self, depth: usize) -> Result<Value, HeaderError> {
        if depth > 32 {
            return Err(self.err("header nests too deeply"));
        }
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'(') => self.sequence(b')', depth).map(Value::Tuple),
            Some(b'[') => self.sequence(b']', depth).map(|_| Value::List),
            Some(b'{') => {
                // Only metadata dicts inside structured dtypes; skip them whole.
                self.pos += 1;
                self.sequence(b'}', depth)?;
                Ok(Value::Dict)
            }
            Some(c) if c == b'-' || c == b'+' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.pos < self.text.len() && self.text[self.pos].is_ascii_alphanumeric() {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    b"None" => Ok(Value::None),
                    w => Err(HeaderError::new(
                        self.base + start,
                        format!("unexpected word {:?}", String::from_utf8_lossy(w)),
                    )),
                }
            }
            Some(_) => Err(self.err("unexpected character in header")),
            None => Err(self.err("header ends early")),
        }
    }

    fn sequence(&mut self, close: u8, depth: usize) -> Result<Vec<Value>, HeaderError> {
        if close != b'}' {
            self.pos += 1; // the opening bracket
        }
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            if close == b'}' {
                self.expect(b':')?;
                self.value(depth + 1)?;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => return Err(self.err(format!("expected ',' or '{}'", close as char))),
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Value, HeaderError> {
        let open = self.pos;
        self.pos += 1;
        let mut bytes = Vec::new();
        while let Some(&c) = self.text.get(self.pos) {
            self.pos += 1;
            match c {
                b'\\' => {
                    let Some(&next) = self.text.get(self.pos) else { break };
                    self.pos += 1;
                    bytes.push(next);
                }
                c if c == quote => {
                    return String::from_utf8(bytes)
                        .map(Value::Str)
                        .map_err(|_| HeaderError::new(self.base + open, "string is not UTF-8"));
                }
                c => bytes.push(c),
            }
        }
        Err(HeaderError::new(self.base + open, "unterminated string in header"))
    }

    fn int(&mut self) -> Result<Value, HeaderError> {
        let start = self.pos;
        if matches!(self.text[self.pos], b'-' | b'+') {
            self.pos += 1;
        }
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        let digits = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or_default();
        // Python 2 wrote long integers with an `L` suffix.
        if self.text.get(self.pos) == Some(&b'L') {
            self.pos += 1;
        }
        digits
            .parse::<i128>()
            .map(Value::Int)
            .map_err(|_| HeaderError::new(self.base + start, format!("bad integer {digits:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::ElementType;
    use proptest::prelude::*;

    fn raw(version: (u8, u8), dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[version.0, version.1]);
        if version.0 == 1 {
            v.extend_from_slice(&u16::try_from(dict.len()).unwrap().to_le_bytes());
        } else {
            v.extend_from_slice(&u32::try_from(dict.len()).unwrap().to_le_bytes());
        }
        v.extend_from_slice(dict.as_bytes());
        v
    }

    #[test]
    fn parses_numpy_style_headers() {
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }          \n";
        let h = Header::parse(&raw((1, 0), dict)).unwrap();
        assert_eq!(h.dtype, DType::parse("<f8").unwrap());
        assert_eq!(h.shape, vec![3, 4]);
        assert!(!h.fortran_order);
        assert_eq!(h.data_offset, 10 + dict.len());
    }

    #[test]
    fn accepts_any_key_order_quotes_and_trailing_commas() {
        for dict in [
            "{\"shape\": (5,), \"fortran_order\": True, \"descr\": \">i4\"}",
            "{'fortran_order':True,'shape':(5,),'descr':'>i4',}\n",
            "{ 'descr' : '>i4' , 'shape' : ( 5 , ) , 'fortran_order' : True }",
            "{'descr': '>i4', 'fortran_order': True, 'shape': (5L,), }",
        ] {
            for version in [(1, 0), (2, 0), (3, 0)] {
                let h = Header::parse(&raw(version, dict)).unwrap();
                assert_eq!(h.shape, vec![5], "{dict}");
                assert!(h.fortran_order);
                assert_eq!(h.dtype.typestr(), ">i4");
                assert_eq!(h.version, version);
            }
        }
    }

    #[test]
    fn rejects_bad_headers_with_reasons() {
        let d = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"\x93NUMPZ\x01\x00".to_vec(), "magic"),
            (b"\x93NUM".to_vec(), "magic"),
            (b"\x93NUMPY".to_vec(), "version"),
            (raw((4, 0), d), "unknown .npy format version 4.0"),
            (raw((1, 0), d)[..9].to_vec(), "header length"),
            (raw((1, 0), d)[..30].to_vec(), "runs past the end"),
            (raw((1, 0), "[1, 2]"), "not a Python dict"),
            (raw((1, 0), "{'descr': '<f8', 'shape': (3,)}"), "fortran_order"),
            (raw((1, 0), "{'descr': '<f8', 'fortran_order': False}"), "\"shape\""),
            (
                raw((1, 0), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}"),
                "unexpected key \"x\"",
            ),
            (
                raw((1, 0), "{'descr': '<f8', 'descr': '<f8', 'fortran_order': 0, 'shape': ()}"),
                "twice",
            ),
            (raw((1, 0), "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}"), "negative"),
            (
                raw(
                    (1, 0),
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
                ),
                "64-bit",
            ),
            (raw((1, 0), "{'descr': '<f8', 'fortran_order': 1, 'shape': (3,)}"), "True or False"),
            (raw((1, 0), "{'descr': '<f8', 'fortran_order': False, 'shape': 3}"), "not a tuple"),
            (raw((1, 0), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x"), "after"),
            (raw((1, 0), "{'descr': '<f8"), "unterminated"),
            (raw((1, 0), "{'descr': '|O', 'fortran_order': False, 'shape': (3,)}"), "object"),
            (
                raw((1, 0), "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (3,)}"),
                "records with named fields",
            ),
        ];
        for (bytes, want) in cases {
            let e = Header::parse(&bytes).unwrap_err();
            assert!(e.reason.contains(want), "want {want:?}, got {e}");
        }
    }

    #[test]
    fn written_headers_are_aligned_and_rewritable() {
        for e in ElementType::ALL {
            for shape in [vec![], vec![0], vec![7], vec![3, 0, 5], vec![1, 2, 3, 4, 5]] {
                let mut h = Header::new(DType::native(e), &shape, false);
                let bytes = h.to_bytes();
                assert_eq!(bytes.len() % ALIGN, 0);
                let back = Header::parse(&bytes).unwrap();
                assert_eq!(back.shape, shape);
                assert_eq!(back.data_offset, bytes.len());
                if !shape.is_empty() {
                    h.shape[0] = usize::MAX; // the widest axis 0 still fits
                    assert!(h.to_bytes_in(back.version, bytes.len()).is_some());
                    h.shape[0] = 12_345_678_901;
                    let again = h.to_bytes_in(back.version, bytes.len()).unwrap();
                    assert_eq!(again.len(), bytes.len());
                    if h.data_len().is_some() {
                        assert_eq!(Header::parse(&again).unwrap().shape, h.shape);
                    }
                }
            }
        }
    }

    #[test]
    fn long_headers_use_version_2() {
        let h = Header::new(DType::parse("<f8").unwrap(), &vec![1; 30_000], false);
        let bytes = h.to_bytes();
        assert_eq!(bytes[6], 2);
        // No header of at most 64 axes needs version 2; reading this one back is refused by
        // the rank limit (numpy's 64 axes).
        let err = Header::parse(&bytes).unwrap_err();
        assert!(err.to_string().contains("30000 dimensions"), "{err}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut v = MAGIC.to_vec();
            v.extend_from_slice(&bytes);
            let _ = Header::parse(&v);
            let _ = Header::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_mangled_text(text in "[{}()\\[\\]',: a-z0-9<>|TrueFalse-]{0,80}") {
            let _ = Header::parse(&raw((1, 0), &text));
        }
    }
}
