//! Structural mutations: each knows the layout of what it changes (a `.npy` header dict, a JSON
//! document, a shard index, a delta header, CSV records), so most inputs get past the first
//! check and reach the code behind it; plain byte edits and splices cover the rest.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::rng::Rng;

// ---------------------------------------------------------------------------------------------
// Bytes

/// One to four byte-level edits: bit flips, boundary integers, truncation, deletion,
/// duplication, insertion, zeroing, or a splice from `other`.
pub(crate) fn bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..=rng.below(4) {
        byte_edit(rng, data, other);
    }
}

fn byte_edit(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    let at = |rng: &mut Rng| if len == 0 { 0 } else { rng.below(len) };
    match rng.below(9) {
        0 if len > 0 => {
            let i = at(rng);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = at(rng);
            data[i] = *rng.pick(&[0, 0xff, 0x7f, 0x80, b'{', b'"', b'\n', b',']);
        }
        2 if len >= 8 => {
            let i = rng.below(len - 7);
            let v = rng.interesting();
            let b = if rng.one_in(2) { v.to_le_bytes() } else { v.to_be_bytes() };
            let w = *rng.pick(&[2usize, 4, 8]);
            data[i..i + w].copy_from_slice(&b[..w]);
        }
        3 => data.truncate(at(rng)),
        4 if len > 0 => {
            let a = at(rng);
            let b = (a + 1 + rng.below(64)).min(len);
            data.drain(a..b);
        }
        5 if len > 0 => {
            let a = at(rng);
            let b = (a + 1 + rng.below(256)).min(len);
            let piece = data[a..b].to_vec();
            let to = at(rng);
            data.splice(to..to, piece);
        }
        6 => {
            let to = at(rng);
            let n = 1 + rng.below(16);
            let piece: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(to..to, piece);
        }
        7 if len > 0 => {
            let a = at(rng);
            let b = (a + 1 + rng.below(512)).min(len);
            data[a..b].fill(0);
        }
        _ if !other.is_empty() => {
            // Splice: our head, the other's tail.
            let a = at(rng);
            let b = rng.below(other.len());
            data.truncate(a);
            data.extend_from_slice(&other[b..]);
        }
        _ => data.push(rng.next_u64() as u8),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

const STRINGS: &[&str] = &[
    "",
    "<f8",
    ">f8",
    "|b1",
    "<i8",
    ">i2",
    "<u4",
    "<c16",
    "<f2",
    "|O",
    "<U5",
    "<M8[ns]",
    "float64",
    "int8",
    "uint64",
    "bool",
    "complex128",
    "float16",
    "int32",
    "string",
    "r8",
    "bytes",
    "zstd",
    "gzip",
    "blosc",
    "crc32c",
    "sharding_indexed",
    "transpose",
    "regular",
    "rectangular",
    "default",
    "v2",
    "C",
    "F",
    "little",
    "big",
    "array",
    "group",
    "cat",
    "str",
    "datetime",
    "i64",
    "f64",
    "bool",
    ".",
    "..",
    "../x",
    "/",
    "a/b",
    "c/0/0",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x1p3",
    "\u{0}",
    "\u{fffd}",
];

/// A replacement for a JSON value: boundary numbers, known keywords, empty or long containers.
fn json_value(rng: &mut Rng, old: &Value) -> Value {
    match rng.below(10) {
        0..=2 => {
            let v = rng.interesting();
            match rng.below(5) {
                0 => Value::from((v as i64).wrapping_abs().wrapping_neg()),
                1 => Value::from(v as f64 * 1.5),
                _ => Value::from(v),
            }
        }
        3 | 4 => Value::from(*rng.pick(STRINGS)),
        5 => Value::from("x".repeat(1 + rng.below(5000))),
        6 => rng.pick(&[Value::Null, Value::Bool(true), Value::Bool(false)]).clone(),
        7 => {
            // An array of the old value repeated: ranks past the caps, long codec lists.
            let n = *rng.pick(&[0usize, 1, 2, 3, 33, 65, 70]);
            Value::Array(vec![old.clone(); n])
        }
        8 => Value::Object(Map::new()),
        _ => match old {
            Value::Number(n) => {
                let i = n.as_i64().unwrap_or(1);
                Value::from(*rng.pick(&[
                    i.wrapping_add(1),
                    i.wrapping_sub(1),
                    i.wrapping_mul(2),
                    i.wrapping_neg(),
                    i.wrapping_mul(1 << 20),
                ]))
            }
            Value::String(s) => {
                let mut b = s.clone().into_bytes();
                b.reverse();
                Value::from(String::from_utf8_lossy(&b).into_owned())
            }
            _ => Value::Null,
        },
    }
}

/// Paths to every node, as indices into arrays and keys of objects.
fn nodes(v: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(path.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Step::Index(i));
                nodes(x, path, out);
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                path.push(Step::Key(k.clone()));
                nodes(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
enum Step {
    Index(usize),
    Key(String),
}

fn node_mut<'a>(mut v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    for s in path {
        v = match (s, v) {
            (Step::Index(i), Value::Array(a)) => &mut a[*i],
            (Step::Key(k), Value::Object(m)) => m.get_mut(k).expect("path from nodes()"),
            _ => unreachable!("path from nodes()"),
        };
    }
    v
}

/// One to three structural edits of a JSON document: replace a value, delete or rename a key,
/// grow or shrink an array, swap two values; then, rarely, a text-level edit. Text that is not
/// JSON gets byte edits.
pub(crate) fn json(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let Ok(mut doc) = serde_json::from_slice::<Value>(text) else {
        let mut b = text.to_vec();
        bytes(rng, &mut b, &[]);
        return b;
    };
    for _ in 0..=rng.below(3) {
        let mut all = Vec::new();
        nodes(&doc, &mut Vec::new(), &mut all);
        let path = rng.pick(&all).clone();
        let other = rng.pick(&all).clone();
        let other_value = node_mut(&mut doc, &other).clone();
        let node = node_mut(&mut doc, &path);
        match (rng.below(6), &mut *node) {
            (0, Value::Object(m)) if !m.is_empty() => {
                let k = m.keys().nth(rng.below(m.len())).cloned().unwrap_or_default();
                let v = m.remove(&k).unwrap_or(Value::Null);
                if rng.one_in(2) {
                    m.insert(format!("{k}{}", rng.pick(&["_", "s", "X"])), v);
                }
            }
            (1, Value::Object(m)) => {
                m.insert((*rng.pick(STRINGS)).to_string(), json_value(rng, &Value::Null));
            }
            (0 | 1, Value::Array(a)) if !a.is_empty() => {
                let i = rng.below(a.len());
                if rng.one_in(2) {
                    a.remove(i);
                } else {
                    let x = a[i].clone();
                    a.insert(i, x);
                }
            }
            (2, _) => *node = other_value,
            _ => *node = json_value(rng, node),
        }
    }
    let mut out = serde_json::to_vec_pretty(&doc).expect("a Value serializes");
    if rng.one_in(8) {
        bytes(rng, &mut out, &[]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// .npy

/// A new `.npy` from a seed: usually a regenerated header dict (descr, `fortran_order` and
/// shape chosen among valid and hostile values, keys dropped, repeated or reordered, padding
/// and length fields off) over the seed's data (kept, cut, extended or spliced); else byte
/// edits of the whole file.
pub(crate) fn npy(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    if rng.one_in(4) {
        let mut b = seed.to_vec();
        bytes(rng, &mut b, other);
        return b;
    }
    let (dict, data) = split_npy(seed);
    let mut fields: Vec<(String, String)> = parse_dict(&dict);
    for _ in 0..=rng.below(3) {
        match rng.below(8) {
            0..=1 => set(&mut fields, "descr", format!("'{}'", rng.pick(DESCRS))),
            2 => set(
                &mut fields,
                "fortran_order",
                (*rng.pick(&["True", "False", "1", "'x'", "None"])).into(),
            ),
            3..=5 => set(&mut fields, "shape", shape(rng)),
            6 if !fields.is_empty() => {
                let i = rng.below(fields.len());
                if rng.one_in(2) {
                    fields.remove(i);
                } else {
                    let f = fields[i].clone();
                    fields.push(f);
                }
            }
            _ => fields.push(((*rng.pick(&["extra", "shape ", "Shape", ""])).into(), "1".into())),
        }
    }
    if rng.one_in(6) {
        fields.reverse();
    }
    let mut text = String::from("{");
    for (k, v) in &fields {
        let _ = write!(text, "'{k}': {v}, ");
    }
    text.push('}');
    if rng.one_in(10) {
        text.pop();
    }
    let version: (u8, u8) =
        if rng.one_in(10) { (rng.below(5) as u8, rng.below(2) as u8) } else { (1, 0) };
    let width = if version.0 == 1 { 2 } else { 4 };
    let mut total = 8 + width + text.len() + 1;
    if !rng.one_in(8) {
        total = total.div_ceil(64) * 64;
    }
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version.0, version.1]);
    let mut hlen = (total - 8 - width) as u64;
    if rng.one_in(8) {
        hlen = hlen.wrapping_add(rng.interesting()) & if width == 2 { 0xffff } else { 0xffff_ffff };
    }
    out.extend_from_slice(&hlen.to_le_bytes()[..width]);
    out.extend_from_slice(text.as_bytes());
    while out.len() + 1 < total {
        out.push(b' ');
    }
    out.push(b'\n');
    let mut data = data.to_vec();
    match rng.below(6) {
        0 => data.truncate(rng.below(data.len() + 1)),
        1 => data.extend(std::iter::repeat_n(0x3f, 1 + rng.below(300))),
        2 if !other.is_empty() => data = split_npy(other).1.to_vec(),
        3 => bytes(rng, &mut data, other),
        _ => {}
    }
    out.extend_from_slice(&data);
    out
}

const DESCRS: &[&str] = &[
    "<f8", ">f8", "<f4", ">f4", "<f2", "|b1", "|u1", "|i1", "<i2", ">u2", "<i4", ">u4", "<i8",
    ">u8", "<c8", ">c16", "<f16", "<i3", "|f8", "=f8", "f8", "<b1", "|O", "<U5", "|S3", "<M8[ns]",
    "<m8[s]", "|V4", "", "<", "<f8 ", "<F8",
];

fn shape(rng: &mut Rng) -> String {
    let rank = match rng.below(8) {
        0 => 0,
        1 => *rng.pick(&[64usize, 65, 100]),
        _ => 1 + rng.below(4),
    };
    let dims: Vec<String> = (0..rank)
        .map(|_| match rng.below(6) {
            0 => "-1".to_string(),
            1 => rng.interesting().to_string(),
            2 => "0".to_string(),
            _ => (1 + rng.below(6)).to_string(),
        })
        .collect();
    match (rank, rng.below(12)) {
        (_, 0) => "[3, 4]".into(),
        (_, 1) => "(3 4)".into(),
        (_, 2) => "(3,,)".into(),
        (1, _) => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

/// The header dict text and the data of a `.npy` (the whole file as data if it has no dict).
fn split_npy(file: &[u8]) -> (String, &[u8]) {
    let width = match file.get(6) {
        Some(1) => 2,
        Some(_) => 4,
        None => return (String::new(), file),
    };
    let Some(len) = file.get(8..8 + width) else { return (String::new(), file) };
    let mut b = [0u8; 4];
    b[..width].copy_from_slice(len);
    let end = 8 + width + u32::from_le_bytes(b) as usize;
    match file.get(8 + width..end) {
        Some(dict) => (String::from_utf8_lossy(dict).into_owned(), &file[end..]),
        None => (String::new(), file),
    }
}

/// `'key': value` pairs of a header dict (values keep their text; tuples are kept whole).
fn parse_dict(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in ["descr", "fortran_order", "shape"] {
        let Some(at) = text.find(&format!("'{key}':")) else { continue };
        let rest = text[at + key.len() + 3..].trim_start();
        let end = if rest.starts_with('(') {
            rest.find(')').map_or(rest.len(), |i| i + 1)
        } else {
            rest.find(',').unwrap_or(rest.len())
        };
        out.push((key.to_string(), rest[..end].to_string()));
    }
    out
}

fn set(fields: &mut Vec<(String, String)>, key: &str, value: String) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some(f) => f.1 = value,
        None => fields.push((key.to_string(), value)),
    }
}

// ---------------------------------------------------------------------------------------------
// Zarr shard index

/// Rewrites entries of a shard's index (at its end: n pairs of little-endian `u64` offset and
/// length, then a crc32c) with boundary values, and fixes the checksum so the index is read.
pub(crate) fn shard_index(rng: &mut Rng, shard: &mut [u8], entries: usize) {
    let index = entries * 16;
    if entries == 0 || shard.len() < index + 4 {
        return;
    }
    let start = shard.len() - index - 4;
    for _ in 0..=rng.below(3) {
        let e = start + 16 * rng.below(entries) + 8 * rng.below(2);
        let v = match rng.below(4) {
            0 => rng.interesting(),
            1 => u64::MAX,
            2 => shard.len() as u64 - rng.below(64) as u64,
            _ => u64::from_le_bytes(shard[e..e + 8].try_into().expect("8 bytes"))
                .wrapping_add(rng.interesting()),
        };
        shard[e..e + 8].copy_from_slice(&v.to_le_bytes());
    }
    if !rng.one_in(8) {
        let crc = crc32c(&shard[start..start + index]);
        shard[start + index..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// CRC-32C (Castagnoli), bit by bit: shard indexes are small.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// Delta files

/// Edits the fixed fields or the index of a delta (layout in `src/npy/cow/delta.rs`) and,
/// usually, recomputes the header checksum so the edit gets past it; else byte edits.
pub(crate) fn delta(rng: &mut Rng, d: &mut Vec<u8>) {
    if rng.one_in(4) || d.len() < 88 {
        bytes(rng, d, &[]);
        return;
    }
    let l = u32::from_le_bytes(d[52..56].try_into().expect("4 bytes")) as usize;
    let n = u64::from_le_bytes(d[24..32].try_into().expect("8 bytes")) as usize;
    if l > d.len() || n > d.len() {
        bytes(rng, d, &[]);
        return;
    }
    let end = 88 + l + 16 * n;
    for _ in 0..=rng.below(2) {
        let (at, width) = *rng.pick(&[
            (8usize, 4usize),
            (12, 4),
            (16, 8),
            (24, 8),
            (32, 8),
            (40, 8),
            (48, 4),
            (52, 4),
            (56, 8),
            (88 + l, 8),
            (88 + l + 16 * n.saturating_sub(1), 8),
            (end + 8, 4),
        ]);
        let v = rng.interesting();
        if let Some(field) = d.get_mut(at..at + width) {
            field.copy_from_slice(&v.to_le_bytes()[..width]);
        }
    }
    if !rng.one_in(6) && end + 8 <= d.len() {
        let sum = twox_hash::XxHash3_64::oneshot(&d[..end]);
        d[end..end + 8].copy_from_slice(&sum.to_le_bytes());
    }
    if rng.one_in(5) {
        let len = d.len();
        d.truncate(rng.below(len + 1));
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

const FIELDS: &[&str] = &[
    "",
    "NA",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-0",
    "0",
    "1e400",
    "-1e-400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "0x10",
    "1_000",
    "2024-02-30",
    "2024-01-01T00:00:00Z",
    "2024-01-01 00:00:00.123456789",
    "1677-09-21",
    "2262-04-12",
    "true",
    "FALSE",
    "\"\"",
    "\"a,b\"",
    "\"a\nb\"",
    "\"",
    "a\"b",
    "\r",
    "\u{feff}",
    "é",
    "\u{0}",
    "🦀",
];

/// One to three record-level edits of CSV text: lines duplicated, dropped or swapped, fields
/// replaced by boundary tokens, fields added or removed, quotes and line ends inserted, a huge
/// field, a wide header; sometimes byte edits (invalid UTF-8 included).
pub(crate) fn csv(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    for _ in 0..=rng.below(3) {
        let n = lines.len();
        let i = rng.below(n);
        match rng.below(10) {
            0 => {
                let l = lines[i].clone();
                for _ in 0..=rng.below(50) {
                    lines.insert(i, l.clone());
                }
            }
            1 if n > 1 => {
                lines.remove(i);
            }
            2 => {
                let j = rng.below(n);
                lines.swap(i, j);
            }
            3..=5 => {
                let mut fields: Vec<Vec<u8>> =
                    lines[i].split(|&b| b == b',').map(<[u8]>::to_vec).collect();
                let f = rng.below(fields.len());
                match rng.below(4) {
                    0 => {
                        fields.remove(f);
                    }
                    1 => fields.insert(f, rng.pick(FIELDS).as_bytes().to_vec()),
                    _ => fields[f] = rng.pick(FIELDS).as_bytes().to_vec(),
                }
                lines[i] = fields.join(&b","[..]);
            }
            6 => {
                let at = rng.below(lines[i].len() + 1);
                let choices: [&[u8]; 6] = [b"\"", b"\r", b"\n", b",", b"\xff\xfe", b"\0"];
                let what = *rng.pick(&choices);
                lines[i].splice(at..at, what.iter().copied());
            }
            7 => lines[i] = vec![b'7'; *rng.pick(&[1 << 16, 1 << 20, 3 << 20])],
            8 => {
                let cols = *rng.pick(&[2usize, 50, 300]);
                let name = rng.pick(&["a", "", "a/b", "..", "x.npy", "manifest.json", "a"]);
                lines[0] = (0..cols)
                    .map(|c| if rng.one_in(3) { (*name).to_string() } else { format!("c{c}") })
                    .collect::<Vec<_>>()
                    .join(",")
                    .into_bytes();
            }
            _ => {
                let mut l = lines[i].clone();
                bytes(rng, &mut l, &[]);
                lines[i] = l;
            }
        }
    }
    let mut out = lines.join(&b"\n"[..]);
    if rng.one_in(6) {
        bytes(rng, &mut out, &[]);
    }
    out
}
