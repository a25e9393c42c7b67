//! Categorical dictionaries: the codes of a categorical column's distinct strings, and the
//! append-only file that lists them (one JSON string per line, in code order).
//!
//! Each parsed block codes its values in order of first appearance within the block; the
//! dictionary turns those block-local codes into the column's codes, in order of first
//! appearance in the input.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::appender::Appender;
use super::columns::{Keys, MISSING_CODE};
use super::value::NaTokens;

/// A categorical column's dictionary and its file.
///
/// The categories' bytes sit one after another in one buffer, in code order; the index maps
/// the 64-bit hash of a category's bytes to its code. Categories whose hashes are equal (as
/// good as never: the hash is seeded per process) are chained through `next`. So a new
/// category costs no allocation of its own, and growing the index never hashes bytes again:
/// what made a million distinct IDs as `cat` many times slower than as `str`.
pub(crate) struct Dictionary {
    /// Hash of a category's bytes to its code (the first of its chain).
    index: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    hasher: foldhash::fast::RandomState,
    /// Bytes of all categories, in code order.
    bytes: Vec<u8>,
    /// Where each category ends in `bytes`.
    ends: Vec<usize>,
    /// For each code, the next code whose bytes have the same hash ([`NONE`]: none).
    next: Vec<u32>,
    /// Lines for the file, written once per [`translate`](Dictionary::translate).
    lines: Vec<u8>,
    file: Appender,
}

/// The end of a chain of codes.
const NONE: u32 = u32::MAX;

/// A hasher for keys that are hashes already (of foldhash, mixed in every bit).
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl Dictionary {
    fn empty(file: Appender) -> Dictionary {
        Dictionary {
            index: HashMap::default(),
            hasher: foldhash::fast::RandomState::default(),
            bytes: Vec::new(),
            ends: Vec::new(),
            next: Vec::new(),
            lines: Vec::new(),
            file,
        }
    }

    /// An empty dictionary with a new file at `path`.
    pub(crate) fn create(path: PathBuf) -> Result<Dictionary> {
        Ok(Dictionary::empty(Appender::create(path)?))
    }

    /// A dictionary that starts with `seed` (codes `0..seed.len()`), with a new file at
    /// `path` that lists them.
    pub(crate) fn create_seeded(path: PathBuf, seed: &[String]) -> Result<Dictionary> {
        let mut d = Dictionary::create(path)?;
        let path = d.file.path().to_path_buf();
        for s in seed {
            if d.find(s.as_bytes()).is_some() {
                return Err(Error::invalid(
                    d.file.path(),
                    format!("category {s:?} is listed twice in the dictionary"),
                ));
            }
            let h = d.hasher.hash_one(s.as_bytes());
            d.add(h, s.as_bytes(), "", &path)?;
        }
        d.write_lines()?;
        Ok(d)
    }

    /// Reopens the file at `path`, keeping its first `categories` entries (`bytes` long).
    pub(crate) fn reopen(path: PathBuf, categories: u64, bytes: u64) -> Result<Dictionary> {
        let cats = read_categories(&path, categories)?;
        let mut d = Dictionary::empty(Appender::reopen(path, bytes)?);
        let path = d.file.path().to_path_buf();
        for c in &cats {
            let h = d.hasher.hash_one(c.as_bytes());
            d.add(h, c.as_bytes(), "", &path)?;
        }
        // Those lines are in the file already.
        d.lines.clear();
        Ok(d)
    }

    /// Categories so far.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of all categories together.
    pub(crate) fn text_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The bytes of the category with code `c`.
    fn category(&self, c: usize) -> &[u8] {
        let start = if c == 0 { 0 } else { self.ends[c - 1] };
        &self.bytes[start..self.ends[c]]
    }

    /// The categories in code order, as their bytes one after another and where each ends: the
    /// dictionary's own buffers, moved, so finishing a column need not read its file back.
    pub(crate) fn into_text(self) -> (Vec<u8>, Vec<usize>) {
        (self.bytes, self.ends)
    }

    /// The categories in code order.
    pub(crate) fn by_code(&self) -> Vec<&[u8]> {
        (0..self.ends.len()).map(|c| self.category(c)).collect()
    }

    /// The code of `key`, if it is a category.
    fn find(&self, key: &[u8]) -> Option<u32> {
        self.find_hashed(self.hasher.hash_one(key), key)
    }

    fn find_hashed(&self, h: u64, key: &[u8]) -> Option<u32> {
        let mut c = *self.index.get(&h)?;
        while c != NONE {
            if self.category(c as usize) == key {
                return Some(c);
            }
            c = self.next[c as usize];
        }
        None
    }

    /// Adds `key` (hash `h`, not a category yet) as the next code, and its line for the file.
    fn add(&mut self, h: u64, key: &[u8], column: &str, input: &Path) -> Result<u32> {
        let c = self.next_code(column, input)?;
        let chain = match self.index.entry(h) {
            Entry::Occupied(mut e) => std::mem::replace(e.get_mut(), c),
            Entry::Vacant(e) => {
                e.insert(c);
                NONE
            }
        };
        self.push(chain, key);
        Ok(c)
    }

    /// The code the next new category gets.
    fn next_code(&self, column: &str, input: &Path) -> Result<u32> {
        u32::try_from(self.ends.len()).ok().filter(|&c| c != NONE).ok_or_else(|| {
            Error::invalid(input, format!("column {column:?}: more than 2^32 - 1 categories"))
        })
    }

    /// Stores `key` as the newest category (and its line for the file); `chain` is the code
    /// its hash pointed at before it.
    fn push(&mut self, chain: u32, key: &[u8]) {
        self.next.push(chain);
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
        push_line(&mut self.lines, key);
    }

    /// The code of `key` (hash `h`), added as the next code (and its line for the file) if it
    /// is not a category yet: one probe of the index, where [`find_hashed`] and then [`add`]
    /// took two (a tenth of the time of a million distinct IDs).
    ///
    /// [`find_hashed`]: Dictionary::find_hashed
    /// [`add`]: Dictionary::add
    fn code_of(&mut self, h: u64, key: &[u8], column: &str, input: &Path) -> Result<u32> {
        let c = self.next_code(column, input)?;
        let (bytes, ends, next) = (&self.bytes, &self.ends, &self.next);
        let category = |c: u32| {
            let c = c as usize;
            let start = if c == 0 { 0 } else { ends[c - 1] };
            &bytes[start..ends[c]]
        };
        let chain = match self.index.entry(h) {
            Entry::Occupied(mut e) => {
                let mut at = *e.get();
                while at != NONE {
                    if category(at) == key {
                        return Ok(at);
                    }
                    at = next[at as usize];
                }
                std::mem::replace(e.get_mut(), c)
            }
            Entry::Vacant(e) => {
                e.insert(c);
                NONE
            }
        };
        self.push(chain, key);
        Ok(c)
    }

    /// Appends the lines of the categories added since the last call to the file.
    fn write_lines(&mut self) -> Result<()> {
        if !self.lines.is_empty() {
            self.file.append(&self.lines)?;
            self.lines.clear();
        }
        Ok(())
    }

    /// Keeps the dictionary's file closed but while writing (see
    /// [`Appender::close_between_writes`]).
    pub(crate) fn close_between_writes(&mut self, buffer: usize) -> Result<()> {
        self.file.close_between_writes(buffer)
    }

    pub(crate) fn file(&mut self) -> &mut Appender {
        &mut self.file
    }

    /// Sets `codes[i]` to the column's code for the block's `keys[i]`, adding the keys not seen
    /// before (in order) to the dictionary and its file; a key that means a missing value (`na`)
    /// gets [`MISSING_CODE`] and is not a category. `column` and `input` name the column in
    /// errors.
    pub(crate) fn translate(
        &mut self,
        keys: &Keys,
        na: &NaTokens,
        codes: &mut Vec<u32>,
        column: &str,
        input: &Path,
    ) -> Result<()> {
        codes.clear();
        codes.reserve(keys.len());
        self.index.reserve(keys.len());
        for k in keys.iter() {
            if na.is_missing_text(k) {
                codes.push(MISSING_CODE);
                continue;
            }
            let h = self.hasher.hash_one(k);
            codes.push(self.code_of(h, k, column, input)?);
        }
        self.write_lines()
    }
}

/// Appends the line of category `key` (UTF-8, checked when parsed) to `out`: its JSON string
/// and a newline, as `serde_json` writes it.
fn push_line(out: &mut Vec<u8>, key: &[u8]) {
    if needs_escape(key) {
        // serde_json cannot fail on a string into a vector.
        let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(key));
    } else {
        out.push(b'"');
        out.extend_from_slice(key);
        out.push(b'"');
    }
    out.push(b'\n');
}

/// True when the JSON string of `bytes` (UTF-8) is not just `bytes` in quotes: they hold a
/// quote, a backslash or a control character below U+0020, the characters JSON escapes (as
/// `serde_json` does; it leaves U+007F and everything else as it is).
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A dictionary file's line as the category it holds: quoted text without escapes is taken as
/// it is, anything else goes through `serde_json`.
fn parse_line(line: &[u8]) -> std::result::Result<String, String> {
    if let [b'"', inner @ .., b'"'] = line
        && !needs_escape(inner)
    {
        return String::from_utf8(inner.to_vec()).map_err(|e| e.to_string());
    }
    serde_json::from_slice(line).map_err(|e| e.to_string())
}

/// The first `n` categories of a dictionary file.
pub(crate) fn read_categories(path: &Path, n: u64) -> Result<Vec<String>> {
    let text = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in
        text.split(|&b| b == b'\n').take(usize::try_from(n).unwrap_or(usize::MAX)).enumerate()
    {
        out.push(
            parse_line(line).map_err(|e| {
                Error::format(path, 0, format!("line {}: bad category: {e}", i + 1))
            })?,
        );
    }
    if out.len() as u64 != n {
        return Err(Error::format(
            path,
            0,
            format!("holds {} categories, expected {n}", out.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_appearance_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.categories");
        let input = Path::new("in.csv");
        let keys = |v: &[&str]| -> Keys { v.iter().map(|s| s.as_bytes()).collect() };
        let mut codes = Vec::new();
        let mut d = Dictionary::create(path.clone()).unwrap();
        d.translate(&keys(&["b", "a", "b"]), &NaTokens::new(["NA"]), &mut codes, "c", input)
            .unwrap();
        assert_eq!(codes, [0, 1, 0]);
        d.file().sync().unwrap();
        let bytes = d.file().len();
        d.translate(&keys(&["zz"]), &NaTokens::new(["NA"]), &mut codes, "c", input).unwrap();
        drop(d); // "zz" was never synced: as after a crash
        let mut d = Dictionary::reopen(path.clone(), 2, bytes).unwrap();
        d.translate(&keys(&["a", "\"q\""]), &NaTokens::new(["NA"]), &mut codes, "c", input)
            .unwrap();
        assert_eq!(codes, [1, 2]);
        d.file().sync().unwrap();
        assert_eq!(read_categories(&path, 3).unwrap(), ["b", "a", "\"q\""]);
        assert!(matches!(read_categories(&path, 4), Err(Error::Format { .. })));
    }

    #[test]
    fn categories_with_equal_hashes_keep_their_own_codes() {
        let dir = tempfile::tempdir().unwrap();
        let input = Path::new("in.csv");
        let mut d = Dictionary::create(dir.path().join("c.categories")).unwrap();
        // Three keys forced onto one hash, one onto another.
        for (h, k, c) in [(7, "a", 0), (7, "b", 1), (9, "c", 2), (7, "dd", 3)] {
            assert_eq!(d.find_hashed(h, k.as_bytes()), None, "{k}");
            assert_eq!(d.add(h, k.as_bytes(), "c", input).unwrap(), c);
        }
        for (h, k, c) in [(7, "a", 0), (7, "b", 1), (9, "c", 2), (7, "dd", 3)] {
            assert_eq!(d.find_hashed(h, k.as_bytes()), Some(c), "{k}");
        }
        assert_eq!(d.find_hashed(7, b"c"), None);
        assert_eq!(d.find_hashed(7, b"d"), None);
        assert_eq!(d.by_code(), [&b"a"[..], b"b", b"c", b"dd"]);
        assert_eq!(d.text_bytes(), 5);
    }

    #[test]
    fn one_probe_coding_keeps_colliding_categories_apart() {
        let dir = tempfile::tempdir().unwrap();
        let input = Path::new("in.csv");
        let mut d = Dictionary::create(dir.path().join("c.categories")).unwrap();
        // Keys forced onto two hashes, met again in another order: each keeps its first code.
        let seen = [(7, "x", 0), (7, "yy", 1), (3, "x", 2), (7, "z", 3)];
        for (h, k, c) in seen.into_iter().chain(seen.into_iter().rev()) {
            assert_eq!(d.code_of(h, k.as_bytes(), "c", input).unwrap(), c, "{h} {k}");
        }
        assert_eq!(d.len(), 4);
        assert_eq!(d.by_code(), [&b"x"[..], b"yy", b"x", b"z"]);
        d.write_lines().unwrap();
        d.file().sync().unwrap();
        assert_eq!(read_categories(&dir.path().join("c.categories"), 4).unwrap().len(), 4);
    }

    #[test]
    fn dictionary_lines_are_what_serde_json_writes_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.categories");
        let cats = [
            "S0000123",
            "a b",
            "\"q\"",
            "back\\slash",
            "tab\there",
            "nl\nx",
            "\u{1}",
            "\u{7f}",
            "é ü 中文 🦀",
            "{\"json\": 1}",
            "/slash/",
            "\u{1f}end",
        ];
        let mut d = Dictionary::create(path.clone()).unwrap();
        let keys: Keys = cats.iter().map(|s| s.as_bytes()).collect();
        let mut codes = Vec::new();
        d.translate(&keys, &NaTokens::new(["NA"]), &mut codes, "c", Path::new("in.csv")).unwrap();
        d.file().sync().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let expected: String =
            cats.iter().map(|c| serde_json::to_string(c).unwrap() + "\n").collect();
        assert_eq!(text, expected);
        assert_eq!(read_categories(&path, cats.len() as u64).unwrap(), cats);
        // A line that is not a JSON string is refused, with or without quotes around it.
        for bad in ["\"a\\q\"\n", "\"open\n", "x\"\n"] {
            fs::write(&path, bad).unwrap();
            let e = read_categories(&path, 1).unwrap_err();
            assert!(e.to_string().contains("line 1: bad category"), "{bad:?}: {e}");
        }
    }

    /// Distinct bucket indexes (low `bits` bits) and control tags (top 7 bits) of `keys`
    /// hashed as a [`Dictionary`] hashes them for its index, which takes the hash as it is (so
    /// do the block-local [`CatMap`](crate::convert::columns::CatMap)s): what hashbrown spreads
    /// entries by.
    fn spread(keys: &[String], bits: u32) -> (usize, usize) {
        let dir = tempfile::tempdir().unwrap();
        let state = Dictionary::create(dir.path().join("d")).unwrap().hasher;
        let hashes: Vec<u64> = keys.iter().map(|k| state.hash_one(k.as_bytes())).collect();
        let low: std::collections::HashSet<u64> =
            hashes.iter().map(|h| h & ((1 << bits) - 1)).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        (low.len(), tags.len())
    }

    #[test]
    fn id_like_keys_spread_over_buckets() {
        // 100k keys into 2^17 buckets: a random hash fills about 70k of them. The old FxHash
        // put all 8-byte `S0000000`..`S0099999` into one (their low 18 bits were equal).
        let n = 100_000;
        for (what, keys) in [
            ("8-byte S0000123", (0..n).map(|i| format!("S{i:07}")).collect::<Vec<_>>()),
            ("16-byte order ids", (0..n).map(|i| format!("order-{i:010}")).collect()),
            ("12-byte, prefix varies", (0..n).map(|i| format!("{i:07}-tail")).collect()),
            ("u<N>", (0..n).map(|i| format!("u{}", i * 7919)).collect()),
        ] {
            let (low, tags) = spread(&keys, 17);
            assert!(low > 60_000, "{what}: {low} distinct buckets of 2^17");
            assert_eq!(tags, 128, "{what}: control tags");
        }
    }
}
